import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import type { Json } from "../_support/app.ts";
import { startChannel } from "../_support/channel.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { encryptField } from "../../src/core/crypto/envelope.ts";
import { clientWithToken, countRows, signJwt, sql } from "../_support/stack.ts";

/** A channel whose sender never runs: these tests are about what happens before Meta is called. */
async function queuedOnly() {
  const rung: Job[] = [];
  const ch = await startChannel({
    doorbell: () => ({ ring: (jobs) => (rung.push(...jobs), Promise.resolve()) }),
  });
  return { ch, rung };
}

const text = (to: string, body = "Your order shipped") => ({
  messaging_product: "whatsapp",
  to,
  type: "text",
  text: { body },
});
const template = (to: string) => ({
  to,
  type: "template",
  template: {
    name: "order_update",
    language: { code: "en_US" },
    components: [{ type: "body", parameters: [{ type: "text", text: "Ana" }] }],
  },
});

async function openWindow(ch: Awaited<ReturnType<typeof startChannel>>, from: string) {
  const res = await ch.postWebhook(
    envelope(ch.wabaId, ch.phoneNumberId, inbound(from, "text", { text: { body: "hello" } })),
  );
  assert.equal(res.status, 200);
}

Deno.test("a free-form message inside the 24-hour window is queued: 202 with our id, one durable row, the doorbell rung", async () => {
  const { ch, rung } = await queuedOnly();
  try {
    await openWindow(ch, "447700900301");
    const inboxJob = rung.find((j) => j.kind === "inbox");
    assert.ok(inboxJob?.kind === "inbox" && inboxJob.claimed, "written claimed, events in the job");
    const { metaInbox } = await import("../../src/services/whatsapp_inbox.ts");
    const { inboxConsumer } = await import("../../src/services/inbox.ts");
    const { webhookRouter } = await import("../../src/services/routing.ts");
    const deps = ch.app.deps.services;
    const meta = metaInbox({
      ...deps,
      router: webhookRouter(deps.accounts),
      templateWebhooks: ch.app.deps.templates,
    });
    await inboxConsumer(deps, new Map([["meta", meta]]))([inboxJob]);

    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(text("+44 7700 900301")),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    // jobs run in-process (Deno), so the enqueue already claimed it for the job it rang
    assert.equal(res.body.message.status, "sending");
    assert.equal(res.body.message.recipient, "447700900301");
    const job = rung.find((j) => j.kind === "send" && j.messageId === res.body.message.id);
    assert.ok(job?.kind === "send" && job.claimed, JSON.stringify(rung));
    assert.equal(job.claimed.phone.phone_number_id, ch.phoneNumberId);
    const [row] = await sql<{ content_ciphertext: string }>(
      "select content_ciphertext from messages where id = $1",
      [res.body.message.id],
    );
    assert.ok(!row.content_ciphertext.includes("Your order shipped"));
  } finally {
    await ch.close();
  }
});

Deno.test("a free-form message outside the window is refused with an error that says to use a template; a template goes", async () => {
  const { ch } = await queuedOnly();
  try {
    const refused = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(text("447700900302")),
    });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, "outside_customer_service_window");
    assert.match(refused.body.error.message, /template/);
    const tpl = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900302")),
    });
    assert.equal(tpl.status, 202);
  } finally {
    await ch.close();
  }
});

Deno.test("a refused send leaves nothing behind: no contact, no message, also when refused in a batch beside one that goes", async () => {
  const { ch } = await queuedOnly();
  const counts = async () => ({
    contacts: await countRows("contacts", ch.clientId),
    messages: await countRows("messages", ch.clientId),
  });
  try {
    const refused = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(text("447700900311")),
    });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, "outside_customer_service_window");
    assert.deepEqual(await counts(), { contacts: 0, messages: 0 }, "the number was not recorded");

    // concurrent sends share one enqueue call (src/adapters/supabase/send_calls.ts)
    const answers = await Promise.all([
      ...["447700900312", "447700900313", "447700900314"].map((to) =>
        ch.api("/v1/messages", { method: "POST", body: JSON.stringify(text(to)) })
      ),
      ch.api("/v1/messages", { method: "POST", body: JSON.stringify(template("447700900315")) }),
    ]);
    assert.deepEqual(answers.map((a) => a.status), [422, 422, 422, 202]);
    assert.deepEqual(await counts(), { contacts: 1, messages: 1 });
    const [contact] = await sql<{ wa_id: string }>(
      "select wa_id from contacts where client_id = $1",
      [ch.clientId],
    );
    assert.equal(contact.wa_id, "447700900315");
  } finally {
    await ch.close();
  }
});

Deno.test("an opted-out contact is never messaged, not even with a template", async () => {
  const { ch, rung } = await queuedOnly();
  try {
    const consent = await ch.api("/v1/contacts/447700900303/consent", {
      method: "PUT",
      body: JSON.stringify({ status: "opted_out", source: "reply_stop" }),
    });
    assert.equal(consent.status, 200);
    assert.equal(consent.body.contact.consent.status, "opted_out");
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900303")),
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, "contact_opted_out");
    assert.ok(!rung.some((j) => j.kind === "send"));
    const events = await sql("select status, source from consent_events where client_id = $1", [
      ch.clientId,
    ]);
    assert.deepEqual(events, [{ status: "opted_out", source: "reply_stop" }]);
  } finally {
    await ch.close();
  }
});

Deno.test("the same Idempotency-Key returns the same message and never queues a second; another body gets 409", async () => {
  const { ch, rung } = await queuedOnly();
  try {
    const headers = { "idempotency-key": "order-1001-shipped" };
    const body = JSON.stringify(template("447700900304"));
    const answers = await Promise.all(
      [1, 2, 3].map(() => ch.api("/v1/messages", { method: "POST", headers, body })),
    );
    assert.ok(answers.every((a) => a.status === 202));
    assert.equal(new Set(answers.map((a) => a.body.message.id)).size, 1);
    const rows = await sql<{ n: number }>(
      "select count(*)::int as n from messages where client_id = $1",
      [ch.clientId],
    );
    assert.equal(rows[0].n, 1);
    assert.equal(rung.filter((j) => j.kind === "send").length, 1);
    const other = await ch.api("/v1/messages", {
      method: "POST",
      headers,
      body: JSON.stringify(template("447700900399")),
    });
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, "idempotency_key_reused");
  } finally {
    await ch.close();
  }
});

Deno.test("bad send bodies get 400 with the fields named, and nothing is stored", async () => {
  const { ch } = await queuedOnly();
  try {
    const cases: Array<[unknown, string]> = [
      [{ to: "447700900305", type: "text", text: { body: "" } }, "text.body"],
      [{
        to: "447700900305",
        type: "interactive",
        interactive: {
          type: "button",
          body: { text: "Pick" },
          action: {
            buttons: [1, 2, 3, 4].map((i) => ({
              type: "reply",
              reply: { id: `b${i}`, title: "x" },
            })),
          },
        },
      }, "interactive.action.buttons"],
      [{ to: "447700900305", type: "image", image: {} }, "image"],
      [{ to: "447700900305", type: "telepathy" }, "type"],
    ];
    for (const [body, path] of cases) {
      const res = await ch.api("/v1/messages", { method: "POST", body: JSON.stringify(body) });
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, "invalid_request");
      assert.ok(
        res.body.error.details.some((d: { path: string }) => d.path.startsWith(path)),
        `${path}: ${JSON.stringify(res.body.error.details)}`,
      );
    }
    const badTo = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("12")),
    });
    assert.equal(badTo.status, 400);
    const rows = await sql<{ n: number }>(
      "select count(*)::int as n from messages where client_id = $1",
      [ch.clientId],
    );
    assert.equal(rows[0].n, 0);
  } finally {
    await ch.close();
  }
});

Deno.test("messages list with filters and cursor pagination; one message shows its timeline; other clients see nothing", async () => {
  const { ch } = await queuedOnly();
  const other = await queuedOnly();
  try {
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await ch.api("/v1/messages", {
          method: "POST",
          body: JSON.stringify(template(`44770090040${i}`)),
        })).status,
        202,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Json } = await ch.api(
        `/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      assert.equal(page.status, 200);
      seen.push(...page.body.data.map((m: { id: string }) => m.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    const filtered = await ch.api("/v1/messages?contact=447700900402&status=sending");
    assert.equal(filtered.body.data?.length, 1, JSON.stringify(filtered.body));
    const one = await ch.api(`/v1/messages/${seen[0]}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.message.content.template.name, "order_update");
    assert.deepEqual(one.body.timeline, []);
    const foreign = await other.ch.api(`/v1/messages/${seen[0]}`);
    assert.equal(foreign.status, 404);
    const foreignList = await other.ch.api("/v1/messages");
    assert.deepEqual(foreignList.body.data, []);
    const badCursor = await ch.api("/v1/messages?cursor=garbage");
    assert.equal(badCursor.status, 400);
  } finally {
    await ch.close();
    await other.ch.close();
  }
});

Deno.test("a message's content and a contact's name that do not decrypt (rewritten under the client's RLS, past the API) read as null, never a 500", async () => {
  const { ch } = await queuedOnly();
  try {
    const sent = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900451")),
    });
    assert.equal(sent.status, 202);
    const id = sent.body.message.id;
    const dek = await ch.app.deps.services.dataKeys.forClient(ch.clientId);
    // rows changed past the API (an operator's SQL, a bug elsewhere) under the client's RLS
    const tenant = clientWithToken(await signJwt({ client_id: ch.clientId }));
    const elsewhere = await encryptField(dek, '"Ana"', `message:${crypto.randomUUID()}`);
    for (const rewritten of ["plain text", elsewhere]) {
      const m = await tenant.from("messages").update({ content_ciphertext: rewritten }).eq(
        "id",
        id,
      );
      assert.equal(m.error, null, m.error?.message);
      const c = await tenant.from("contacts").update({ profile_name_ciphertext: rewritten })
        .eq("wa_id", "447700900451");
      assert.equal(c.error, null, c.error?.message);

      const one = await ch.api(`/v1/messages/${id}`);
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.message.content, null);
      const contact = await ch.api("/v1/contacts/447700900451");
      assert.equal(contact.status, 200, JSON.stringify(contact.body));
      assert.equal(contact.body.contact.profile_name, null);
      const list = await ch.api("/v1/contacts");
      assert.equal(list.status, 200, JSON.stringify(list.body));
    }
  } finally {
    await ch.close();
  }
});
