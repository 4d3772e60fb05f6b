import assert from "node:assert/strict";
import fc from "fast-check";
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
 * The Meta inbox processor on batches of deliveries for two clients, through the real route, consumer,
 * PostgREST and PostgreSQL. A channel whose doorbell only records lets a test post several
 * deliveries and then hand the jobs they rang to the consumer as one batch, as a queue would.
 */

const MAX_INBOX_ATTEMPTS = 10;

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

/** `n` characters that compress badly: each 3 bytes in UTF-8, drawn at random */
const incompressible = (n: number) =>
  Array.from({ length: n }, () => String.fromCharCode(0x4e00 + Math.floor(Math.random() * 0x5000)))
    .join("");

Deno.test("values beyond what the columns hold (long keys, a sender without a usable id, years past 9999, deep nesting) are stored, and their neighbours too", async () => {
  const t = await twoClients();
  const { a, b } = t.client;
  try {
    const longWamid = `wamid.${incompressible(1200)}`;
    const longId = buildEnvelope([buildMessagesChange({
      phoneNumberId: a.phoneNumberId,
      inbound: [buildInbound({ type: "text", id: longWamid, waId: "447700900201" })],
    })], { wabaId: a.wabaId });
    const noSender = buildEnvelope([buildMessagesChange({
      phoneNumberId: a.phoneNumberId,
      inbound: [buildInbound({ type: "text", waId: "not-a-number" })],
    })], { wabaId: a.wabaId });
    const shortNumberId = newWamid();
    const shortNumberWithBsuid = buildEnvelope([buildMessagesChange({
      phoneNumberId: b.phoneNumberId,
      inbound: [buildInbound({
        type: "text",
        id: shortNumberId,
        waId: "12345",
        userId: "US.778899",
        fromUserId: true,
      })],
    })], { wabaId: b.wabaId });
    const farFutureId = newWamid();
    const farFuture = buildEnvelope([buildMessagesChange({
      phoneNumberId: b.phoneNumberId,
      inbound: [buildInbound({
        type: "text",
        id: farFutureId,
        waId: "447700900202",
        at: new Date(Date.UTC(20000, 0, 1)),
      })],
    })], { wabaId: b.wabaId });
    const longStatusWamid = newWamid();
    const longStatus = buildEnvelope([buildMessagesChange({
      phoneNumberId: a.phoneNumberId,
      statuses: [buildStatus({ id: longStatusWamid, status: incompressible(1000) })],
    })], { wabaId: a.wabaId });
    let deep: unknown = "bottom";
    for (let i = 0; i < 20_000; i++) deep = { d: deep };
    const deepValue = buildEnvelope([{ field: "deep_update", value: deep }], { wabaId: b.wabaId });
    const valid = text(a, "447700900203", "fine");

    const ids = await t.processTogether([
      longId,
      noSender,
      shortNumberWithBsuid,
      valid.delivery,
      farFuture,
      longStatus,
      deepValue,
    ]);
    assert.deepEqual(
      (await t.inbox(ids)).map((r) => ({ done: r.done, last_error: r.last_error })),
      ids.map(() => ({ done: true, last_error: null })),
      "every delivery processed on the first pass",
    );
    assert.deepEqual(await t.wamids(a.clientId), new Set([valid.id]));
    assert.deepEqual(await t.wamids(b.clientId), new Set([shortNumberId, farFutureId]));

    // what cannot be a message or a status is kept as an invalid item, with its reason
    const invalid = await sql<{ field: string; reason: string; id: string }>(
      `select field, value ->> 'reason' as reason,
          coalesce(value -> 'message' ->> 'id', value -> 'status' ->> 'id') as id
         from whatsapp_account_events where client_id = $1 and field like '%.invalid'
        order by id`,
      [a.clientId],
    );
    assert.deepEqual(invalid.map((r) => r.field).sort(), [
      "messages.invalid",
      "messages.invalid",
      "statuses.invalid",
    ]);
    assert.ok(invalid.some((r) => r.id === longWamid), "the long wamid kept whole");
    assert.ok(invalid.some((r) => r.id === longStatusWamid));
    for (const r of invalid) assert.ok(r.reason.length > 0);

    // a number that cannot be a WhatsApp id does not stop the message: its user id names it
    const [contact] = await sql<{ wa_id: string | null; user_id: string }>(
      `select c.wa_id, c.user_id from messages m join contacts c on c.id = m.contact_id
        where m.client_id = $1 and m.wamid = $2`,
      [b.clientId, shortNumberId],
    );
    assert.deepEqual(contact, { wa_id: null, user_id: "US.778899" });
    const [future] = await sql<{ year: number }>(
      "select extract(year from created_at)::int as year from messages where client_id = $1 and wamid = $2",
      [b.clientId, farFutureId],
    );
    assert.equal(future.year, 20000);

    const [deepRow] = await sql<{ value: unknown }>(
      "select value from whatsapp_account_events where field = 'deep_update' and client_id = $1",
      [b.clientId],
    );
    let depth = 0;
    for (let v = deepRow.value; v && typeof v === "object";) {
      v = (v as { d: unknown }).d;
      depth++;
    }
    assert.ok(depth >= 32 && depth < 20_000, `the nesting kept up to a bound (${depth})`);
  } finally {
    await t.ch.close();
  }
});

/**
 * Makes PostgreSQL refuse, with `sqlstate`, every inbound message whose wamid starts with `marker`,
 * and counts the statements that met one (in a sequence: a rollback does not undo it). It stands
 * for what no normalisation foresaw: a value the database refuses (22023, the content's fault),
 * or the database failing around a delivery (57014, a statement timeout).
 */
async function refuseWamids(marker: string, sqlstate: string) {
  const name = `test_refuse_${crypto.randomUUID().slice(0, 8)}`;
  await sql(`create sequence public.${name}_hits`);
  await sql(`grant usage on sequence public.${name}_hits to authenticated`);
  await sql(`create function public.${name}() returns trigger language plpgsql as $$
    begin
      if new.wamid like '${marker}%' then
        perform nextval('public.${name}_hits');
        raise exception 'refused %', new.wamid using errcode = '${sqlstate}';
      end if;
      return new;
    end $$`);
  await sql(`grant execute on function public.${name}() to authenticated`);
  await sql(
    `create trigger ${name} before insert on public.messages for each row execute function public.${name}()`,
  );
  return {
    hits: async () =>
      (await sql<{ n: number }>(
        `select case when is_called then last_value else 0 end::int as n from public.${name}_hits`,
      ))[0].n,
    async remove() {
      await sql(`drop trigger ${name} on public.messages`);
      await sql(`drop function public.${name}()`);
      await sql(`drop sequence public.${name}_hits`);
    },
  };
}

Deno.test("a delivery the database refuses, first, in the middle or last of a batch, fails alone: every other delivery of both clients is stored on the first pass", async () => {
  const t = await twoClients();
  const { a, b } = t.client;
  const marker = `wamid.REFUSED${crypto.randomUUID().slice(0, 8)}`;
  const refusal = await refuseWamids(marker, "22023");
  try {
    for (const position of [0, 2, 4]) {
      const deliveries = [a, b, a, b, a].map((who, i) =>
        text(who, `4477009003${position}${i}`, `message ${i}`)
      );
      const poisonId = `${marker}.${position}`;
      deliveries[position] = text(
        [a, b, a, b, a][position],
        "447700900399",
        "refused",
        poisonId,
      );
      const ids = await t.processTogether(deliveries.map((d) => d.delivery));

      const rows = await t.inbox(ids);
      for (const [i, row] of rows.entries()) {
        if (i === position) {
          assert.equal(row.done, false, `the refused delivery (position ${position}) is not done`);
          assert.match(row.last_error ?? "", /refused/);
          assert.ok(row.waiting && row.payload, "it waits for a retry, its payload kept");
        } else {
          assert.deepEqual(
            { done: row.done, last_error: row.last_error },
            { done: true, last_error: null },
            `delivery ${i} stored although position ${position} was refused`,
          );
        }
      }
      const stored = new Set([...await t.wamids(a.clientId), ...await t.wamids(b.clientId)]);
      for (const [i, d] of deliveries.entries()) {
        assert.equal(stored.has(d.id), i !== position, `message ${i} (refused: ${position})`);
      }
    }

    // its own retries, through the sweeper's path (claimed and decrypted by the job), alongside a
    // fresh delivery: the last one sets it aside for operators, with its reason and payload, and
    // the fresh one is stored
    const [refused] = await sql<{ id: number }>(
      "select id from webhook_inbox where last_error like '%' || $1 || '%' order by id limit 1",
      [marker],
    );
    await sql("update webhook_inbox set attempts = $2 where id = $1", [
      refused.id,
      MAX_INBOX_ATTEMPTS - 1,
    ]);
    const fresh = text(b, "447700900398", "after");
    const [freshJob] = await t.post([fresh.delivery]);
    await t.sweepTogether([refused.id, freshJob.id]);
    const [setAside, freshRow] = await t.inbox([refused.id, freshJob.id]);
    assert.equal(setAside.attempts, MAX_INBOX_ATTEMPTS);
    assert.deepEqual(
      { done: setAside.done, payload: setAside.payload },
      { done: true, payload: true },
      "set aside: processed, payload kept for operators",
    );
    assert.match(setAside.last_error ?? "", /refused/);
    assert.deepEqual({ done: freshRow.done, last_error: freshRow.last_error }, {
      done: true,
      last_error: null,
    });
    assert.ok((await t.wamids(b.clientId)).has(fresh.id));
  } finally {
    await refusal.remove();
    await t.ch.close();
  }
});

Deno.test("a failure that is not a delivery's (the database failing around it) fails the batch as a whole with one call, is retried with backoff and never sets a delivery aside", async () => {
  const t = await twoClients();
  const { a, b } = t.client;
  const marker = `wamid.UNAVAILABLE${crypto.randomUUID().slice(0, 8)}`;
  const outage = await refuseWamids(marker, "57014");
  try {
    const deliveries = [
      text(a, "447700900401", "caught in the outage", `${marker}.1`),
      text(a, "447700900402", "same client"),
      text(b, "447700900403", "other client"),
      text(a, "447700900404", "same client again"),
    ];
    const ids = await t.processTogether(deliveries.map((d) => d.delivery));
    const first = await t.inbox(ids);
    assert.equal(await outage.hits(), 1, "one call, not one per delivery");
    for (const row of first) {
      assert.deepEqual({ done: row.done, waiting: row.waiting }, { done: false, waiting: true });
      assert.match(row.last_error ?? "", /refused/);
    }

    // still failing at the attempt that would set a delivery of its own fault aside: not this one
    await sql("update webhook_inbox set attempts = $2 where id = any($1)", [
      ids,
      MAX_INBOX_ATTEMPTS - 1,
    ]);
    await t.sweepTogether(ids);
    assert.equal(await outage.hits(), 2);
    for (const row of await t.inbox(ids)) {
      assert.equal(row.attempts, MAX_INBOX_ATTEMPTS);
      assert.deepEqual({ done: row.done, payload: row.payload, waiting: row.waiting }, {
        done: false,
        payload: true,
        waiting: true,
      }, "not set aside: the failure was not the delivery's");
    }

    // one that has failed that often goes on alone, so whatever it is cannot hold others back
    const fresh = [text(a, "447700900405", "later"), text(b, "447700900406", "later too")];
    const freshIds = (await t.post(fresh.map((f) => f.delivery))).map((j) => j.id);
    await t.sweepTogether([ids[0], ...freshIds]);
    const [veteran, ...others] = await t.inbox([ids[0], ...freshIds]);
    assert.deepEqual({ done: veteran.done, waiting: veteran.waiting }, {
      done: false,
      waiting: true,
    });
    for (const row of others) {
      assert.deepEqual({ done: row.done, last_error: row.last_error }, {
        done: true,
        last_error: null,
      });
    }
  } finally {
    await outage.remove();
    await t.ch.close();
  }
});

/** Any code point, NUL and lone surrogates most of all */
const hostileChar = fc.oneof(
  fc.constant("\u0000"),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);
const hostileString = fc.string({ unit: hostileChar, maxLength: 24 });

Deno.test("property: a delivery with arbitrary strings wherever Meta sends text is stored whole", async () => {
  const t = await twoClients();
  const { a } = t.client;
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          body: hostileString,
          name: hostileString,
          waId: hostileString,
          userId: fc.option(hostileString, { nil: null }),
          details: hostileString,
          category: hostileString,
          field: hostileString,
          value: fc.jsonValue({ stringUnit: hostileChar, maxDepth: 3 }),
        }),
        async (x) => {
          const messageId = newWamid();
          const statusId = newWamid();
          const field = `probe_${++run}_${x.field}`;
          const delivery = buildEnvelope([
            buildMessagesChange({
              phoneNumberId: a.phoneNumberId,
              inbound: [buildInbound({
                type: "text",
                id: messageId,
                payload: { body: x.body },
                waId: x.waId,
                userId: x.userId,
                fromUserId: x.userId !== null,
                name: x.name,
              })],
            }),
            buildMessagesChange({
              phoneNumberId: a.phoneNumberId,
              statuses: [buildStatus({
                id: statusId,
                status: "failed",
                pricing: { billable: true, pricing_model: "PMP", category: x.category },
                errors: [buildError(131026, x.details)],
              })],
            }),
            { field, value: x.value },
          ], { wabaId: a.wabaId });
          const [id] = await t.processTogether([delivery]);
          const [row] = await t.inbox([id]);
          assert.deepEqual({ done: row.done, last_error: row.last_error }, {
            done: true,
            last_error: null,
          });
          const [found] = await sql<{ message: number; invalid: number; status: number }>(
            `select
               (select count(*) from messages where client_id = $1 and wamid = $2)::int as message,
               (select count(*) from whatsapp_account_events where client_id = $1
                  and field = 'messages.invalid' and value -> 'message' ->> 'id' = $2)::int as invalid,
               (select count(*) from message_status_events where client_id = $1 and wamid = $3)::int
                 as status`,
            [a.clientId, messageId, statusId],
          );
          assert.equal(
            found.message + found.invalid,
            1,
            "the message, or the message kept as invalid",
          );
          assert.equal(found.status, 1);
          const [fields] = await sql<{ n: number }>(
            "select count(*)::int as n from whatsapp_account_events where client_id = $1 and field like $2",
            [a.clientId, `probe\\_${run}\\_%`],
          );
          assert.equal(fields.n, 1);
        },
      ),
      { numRuns: 40, seed: 0x11_0c_0a_7e },
    );
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
