import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { startChannel } from "../_support/channel.ts";
import {
  buildEnvelope,
  buildError,
  buildInbound,
  buildMessagesChange,
  buildStatus,
  newWamid,
} from "../_support/meta_payloads.ts";
import { createClientWithPhone, sql } from "../_support/stack.ts";

/**
 * processInboxItems() on batches of deliveries for two clients, through the real route, consumer,
 * PostgREST and PostgreSQL. A channel whose doorbell only records lets a test post several
 * deliveries and then hand the jobs they rang to the consumer as one batch, as a queue would.
 */

async function twoClients() {
  const rung: Job[] = [];
  const ch = await startChannel({
    doorbell: () => ({ ring: (jobs) => (rung.push(...jobs), Promise.resolve()) }),
  });
  const b = await createClientWithPhone("Inbox isolation B");
  const [{ waba_id: bWaba }] = await sql<{ waba_id: string }>(
    `select w.waba_id from whatsapp_business_accounts w join phone_numbers p on p.waba_account_id = w.id
      where p.id = $1`,
    [b.phoneId],
  );
  const a = { clientId: ch.clientId, wabaId: ch.wabaId, phoneNumberId: ch.phoneNumberId };
  const client = { a, b: { clientId: b.clientId, wabaId: bWaba, phoneNumberId: b.phoneNumberId } };

  /** Posts each delivery (each acknowledged) and returns the inbox ids, in posting order. */
  const post = async (deliveries: unknown[]) => {
    const start = rung.length;
    for (const d of deliveries) {
      const res = await ch.postWebhook(d);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const jobs = rung.slice(start).filter((j) => j.kind === "inbox");
    assert.equal(jobs.length, deliveries.length, "one inbox row per delivery");
    return jobs as Array<Extract<Job, { kind: "inbox" }>>;
  };
  /** The deliveries' jobs handed to the consumer as one batch, written claimed (Deno's path). */
  const processTogether = async (deliveries: unknown[]) => {
    const jobs = await post(deliveries);
    await ch.app.handleJobs(jobs);
    return jobs.map((j) => j.id);
  };
  /** The same rows as the sweeper finds them: leases run out, claimed and decrypted by the job. */
  const sweepTogether = async (ids: number[]) => {
    await sql("update webhook_inbox set locked_until = null where id = any($1)", [ids]);
    await ch.app.handleJobs(ids.map((id) => ({ kind: "inbox", id })));
  };
  const inbox = (ids: number[]) =>
    sql<
      {
        id: number;
        done: boolean;
        last_error: string | null;
        attempts: number;
        payload: boolean;
        waiting: boolean;
      }
    >(
      `select id, processed_at is not null as done, last_error, attempts,
          payload_ciphertext is not null as payload, next_attempt_at > now() as waiting
         from webhook_inbox where id = any($1) order by array_position($1, id)`,
      [ids],
    );
  const wamids = (clientId: string) =>
    sql<{ wamid: string }>(
      "select wamid from messages where client_id = $1 and direction = 'inbound'",
      [clientId],
    ).then((rows) => new Set(rows.map((r) => r.wamid)));
  return { ch, client, post, processTogether, sweepTogether, inbox, wamids };
}

type Who = { wabaId: string; phoneNumberId: string };

/** A text message for `who`; `id` fixes its wamid. */
function text(who: Who, waId: string, body = "hello", id = newWamid()) {
  const built = buildInbound({ type: "text", payload: { body }, waId, id });
  return {
    id,
    delivery: buildEnvelope([
      buildMessagesChange({ phoneNumberId: who.phoneNumberId, inbound: [built] }),
    ], { wabaId: who.wabaId }),
  };
}

Deno.test("a batch mixing deliveries with NUL and lone surrogates among valid ones of two clients stores every delivery on the first pass, unsafe text made safe", async () => {
  const t = await twoClients();
  const { a, b } = t.client;
  try {
    const validA = text(a, "447700900101", "hello from A");
    const validB = text(b, "447700900102", "hello from B");
    const nulWamid = `wamid.NUL\u0000${crypto.randomUUID()}`;
    const unsafeMessage = {
      id: nulWamid,
      delivery: buildEnvelope([buildMessagesChange({
        phoneNumberId: b.phoneNumberId,
        inbound: [buildInbound({
          type: "image",
          id: nulWamid,
          waId: "447700900103",
          payload: { id: "media\ud800", mime_type: "image/jpeg\u0000", sha256: "x\udfff" },
          context: { id: "wamid.context\udc00", from: "447700900103" },
        })],
      })], { wabaId: b.wabaId }),
    };
    const statusWamid = newWamid();
    const unsafeStatus = buildEnvelope([buildMessagesChange({
      phoneNumberId: a.phoneNumberId,
      statuses: [buildStatus({
        id: statusWamid,
        status: "failed",
        pricing: { billable: false, pricing_model: "PMP", category: "util\ud800ity" },
        errors: [buildError(131026, "the recipient\u0000 is gone")],
      })],
    })], { wabaId: a.wabaId });
    const unsafeField = buildEnvelope([{
      field: "account_update",
      value: { "\u0000event": "VERIFIED\ud83d", nested: [{ reason: "\udc00\u0000" }] },
    }], { wabaId: a.wabaId });
    const unroutable = buildEnvelope([buildMessagesChange({
      phoneNumberId: "1065\u0000403",
      inbound: [buildInbound({ type: "text", waId: "447700900104" })],
    })], { wabaId: "\u0000" });
    const another = text(a, "447700900105", "also from A");

    // the unsafe deliveries first, in the middle and last
    const ids = await t.processTogether([
      unsafeStatus,
      validA.delivery,
      unsafeMessage.delivery,
      validB.delivery,
      unsafeField,
      another.delivery,
      unroutable,
    ]);

    assert.deepEqual(
      (await t.inbox(ids)).map((r) => ({ done: r.done, last_error: r.last_error })),
      ids.map(() => ({ done: true, last_error: null })),
      "every delivery processed on the first pass",
    );
    assert.deepEqual(await t.wamids(a.clientId), new Set([validA.id, another.id]));
    assert.deepEqual(
      await t.wamids(b.clientId),
      new Set([validB.id, nulWamid.replace("\u0000", "\ufffd")]),
    );
    const [image] = await sql<{ media: Record<string, string>; context_wamid: string }>(
      "select media, context_wamid from messages where client_id = $1 and type = 'image'",
      [b.clientId],
    );
    assert.deepEqual(image.media, {
      id: "media\ufffd",
      mime_type: "image/jpeg\ufffd",
      sha256: "x\ufffd",
    });
    assert.equal(image.context_wamid, "wamid.context\ufffd");
    const [status] = await sql<{ pricing: Record<string, unknown>; errors: unknown[] }>(
      "select pricing, errors from message_status_events where client_id = $1 and wamid = $2",
      [a.clientId, statusWamid],
    );
    assert.equal(status.pricing.category, "util\ufffdity");
    assert.deepEqual(
      (status.errors[0] as { details: string }).details,
      "the recipient\ufffd is gone",
    );
    const [field] = await sql<{ value: unknown }>(
      "select value from whatsapp_account_events where client_id = $1 and field = 'account_update'",
      [a.clientId],
    );
    assert.deepEqual(field.value, {
      "\ufffdevent": "VERIFIED\ufffd",
      nested: [{ reason: "\ufffd\ufffd" }],
    });
    const unrouted = await sql<{ phone_number_id: string; waba_id: string }>(
      "select phone_number_id, waba_id from unrouted_webhook_events where inbox_id = $1",
      [ids[6]],
    );
    assert.deepEqual(unrouted, [{ phone_number_id: "1065\ufffd403", waba_id: "\ufffd" }]);
  } finally {
    await t.ch.close();
  }
});

Deno.test("a message whose text holds NUL and lone surrogates is stored encrypted as received, and served as JSON by GET /v1/messages/{id} and to the client's webhook", async () => {
  const ch = await startChannel();
  const got: string[] = [];
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      got.push(await req.text());
      return new Response("ok");
    },
  );
  try {
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({
        url: `http://127.0.0.1:${(receiver.addr as Deno.NetAddr).port}/hook`,
        event_types: ["message.received"],
      }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const body = "a\u0000b\ud800c\udfffd";
    const wamid = newWamid();
    const res = await ch.postWebhook(buildEnvelope([buildMessagesChange({
      phoneNumberId: ch.phoneNumberId,
      inbound: [buildInbound({
        type: "text",
        id: wamid,
        payload: { body },
        waId: "447700900501",
        name: "N\u0000\udc00",
      })],
    })], { wabaId: ch.wabaId }));
    assert.equal(res.status, 200);
    await ch.idle();

    const [stored] = await sql<{ id: string }>(
      "select id from messages where client_id = $1 and wamid = $2",
      [ch.clientId, wamid],
    );
    assert.ok(stored, "stored");
    const one = await ch.api(`/v1/messages/${stored.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.message.content.text, body, "the text as received");

    assert.equal(got.length, 1);
    const event = JSON.parse(got[0]);
    assert.equal(event.type, "message.received");
    assert.equal(event.data.text, body);
  } finally {
    await receiver.shutdown();
    await ch.close();
  }
});
