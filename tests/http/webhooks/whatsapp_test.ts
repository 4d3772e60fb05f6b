import assert from "node:assert/strict";
import { decryptField } from "../../../src/core/crypto/envelope.ts";
import { startChannel } from "../../_support/channel.ts";
import { envelope, inbound, status, wamid } from "../../_support/meta_fixtures.ts";
import { sql, testStack } from "../../_support/stack.ts";

const CUSTOMER = "447700900123";

Deno.test("the GET handshake echoes the challenge for the right verify token and 403s otherwise", async () => {
  const ch = await startChannel();
  try {
    const token = testStack().secrets.meta_verify_token;
    const ok = await fetch(
      `${ch.appUrl}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${token}&hub.challenge=1158201444`,
    );
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "1158201444");
    const bad = await fetch(
      `${ch.appUrl}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`,
    );
    assert.equal(bad.status, 403);
    assert.equal((await bad.json()).error.code, "verification_failed");
  } finally {
    await ch.close();
  }
});

Deno.test("a POST with a missing, wrong or stale signature gets 401 and stores nothing", async () => {
  const ch = await startChannel();
  try {
    const before = await sql<{ n: number }>("select count(*)::int as n from webhook_inbox");
    const payload = envelope(
      ch.wabaId,
      ch.phoneNumberId,
      inbound(CUSTOMER, "text", { text: { body: "hi" } }),
    );
    const unsigned = await fetch(`${ch.appUrl}/webhooks/whatsapp`, {
      method: "POST",
      body: JSON.stringify(payload),
    });
    assert.equal(unsigned.status, 401);
    assert.equal((await unsigned.json()).error.code, "invalid_signature");
    const wrong = await ch.postWebhook(payload, "not-the-app-secret");
    assert.equal(wrong.status, 401);
    // signed, then changed by one byte
    const raw = JSON.stringify(payload);
    const { signMetaPayload } = await import("../../../src/core/whatsapp/signature.ts");
    const sig = await signMetaPayload(
      new TextEncoder().encode(raw),
      testStack().secrets.meta_app_secret,
    );
    const tampered = await fetch(`${ch.appUrl}/webhooks/whatsapp`, {
      method: "POST",
      headers: { "x-hub-signature-256": sig },
      body: raw.replace('"hi"', '"ho"'),
    });
    assert.equal(tampered.status, 401);
    const after = await sql<{ n: number }>("select count(*)::int as n from webhook_inbox");
    assert.equal(after[0].n, before[0].n);
  } finally {
    await ch.close();
  }
});

Deno.test("an accepted delivery is recorded in the inbox, not again in the request log; a refused one is logged", async () => {
  const ch = await startChannel();
  try {
    const raw = JSON.stringify(
      envelope(ch.wabaId, ch.phoneNumberId, inbound(CUSTOMER, "text", { text: { body: "log?" } })),
    );
    const { signMetaPayload } = await import("../../../src/core/whatsapp/signature.ts");
    const signature = await signMetaPayload(
      new TextEncoder().encode(raw),
      testStack().secrets.meta_app_secret,
    );
    const post = async (requestId: string, sig: string) => {
      const res = await fetch(`${ch.appUrl}/webhooks/whatsapp`, {
        method: "POST",
        headers: { "x-request-id": requestId, "x-hub-signature-256": sig },
        body: raw,
      });
      await res.body?.cancel();
      // traced like every answer; browser security headers only where a browser may read
      assert.equal(res.headers.get("x-request-id"), requestId);
      assert.equal(res.headers.get("x-frame-options"), null);
      return res.status;
    };
    assert.equal(await post("wa-log-accepted-1", signature), 200);
    assert.equal(await post("wa-log-repeated-1", signature), 200);
    assert.equal(await post("wa-log-refused-1", `sha256=${"0".repeat(64)}`), 401);
    await ch.app.deps.requestLog.flush();
    const logged = await sql<{ request_id: string; route: string; status: number }>(
      "select request_id, route, status from api_request_log where request_id like 'wa-log-%'",
    );
    assert.deepEqual(logged, [
      { request_id: "wa-log-refused-1", route: "/webhooks/whatsapp", status: 401 },
    ]);
    const inbox = await sql<{ n: number }>(
      "select count(*)::int as n from webhook_inbox where dedupe_key = $1",
      [signature.slice("sha256=".length)],
    );
    assert.equal(inbox[0].n, 1);
  } finally {
    await ch.close();
  }
});

Deno.test("inbound text, image, interactive and button messages are stored for the owning client, encrypted, once", async () => {
  const ch = await startChannel();
  try {
    const ids = { text: wamid(), image: wamid(), interactive: wamid(), button: wamid() };
    const bodies = [
      inbound(CUSTOMER, "text", { text: { body: "Where is my order?" } }, {
        id: ids.text,
        name: "Ana Souza",
      }),
      inbound(CUSTOMER, "image", {
        image: {
          id: "1479537139650973",
          mime_type: "image/jpeg",
          sha256: "abc",
          caption: "the parcel",
        },
      }, { id: ids.image, name: "Ana Souza" }),
      inbound(CUSTOMER, "interactive", {
        interactive: { type: "button_reply", button_reply: { id: "track", title: "Track it" } },
      }, { id: ids.interactive, name: "Ana Souza" }),
      inbound(CUSTOMER, "button", { button: { text: "Confirm", payload: "CONFIRM_1" } }, {
        id: ids.button,
        name: "Ana Souza",
      }),
    ];
    for (const value of bodies) {
      const res = await ch.postWebhook(envelope(ch.wabaId, ch.phoneNumberId, value));
      assert.equal(res.status, 200);
    }
    // Meta retries the same delivery: acknowledged, not stored twice
    const again = await ch.postWebhook(envelope(ch.wabaId, ch.phoneNumberId, bodies[0]));
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    await ch.idle();

    const rows = await sql<
      {
        wamid: string;
        type: string;
        status: string;
        content_ciphertext: string;
        id: string;
        media: unknown;
      }
    >(
      "select id, wamid, type, status, content_ciphertext, media from messages where client_id = $1 order by created_at",
      [ch.clientId],
    );
    assert.equal(rows.length, 4);
    assert.deepEqual(rows.map((r) => r.type).sort(), ["button", "image", "interactive", "text"]);
    assert.ok(rows.every((r) => r.status === "received"));
    const dek = await ch.app.deps.services.dataKeys.forClient(ch.clientId);
    const text = rows.find((r) => r.wamid === ids.text)!;
    assert.ok(
      !text.content_ciphertext.includes("Where is my order"),
      "content is encrypted at rest",
    );
    assert.equal(
      JSON.parse(await decryptField(dek, text.content_ciphertext, `message:${text.id}`)).text,
      "Where is my order?",
    );
    const image = rows.find((r) => r.wamid === ids.image)!;
    assert.deepEqual(image.media, {
      id: "1479537139650973",
      mime_type: "image/jpeg",
      sha256: "abc",
    });
    const interactive = rows.find((r) => r.wamid === ids.interactive)!;
    assert.equal(
      JSON.parse(
        await decryptField(dek, interactive.content_ciphertext, `message:${interactive.id}`),
      ).text,
      "Track it",
    );

    const [contact] = await sql<
      { wa_id: string; last_inbound_at: Date; profile_name_ciphertext: string }
    >(
      "select wa_id, last_inbound_at, profile_name_ciphertext from contacts where client_id = $1",
      [ch.clientId],
    );
    assert.equal(contact.wa_id, CUSTOMER);
    assert.ok(contact.last_inbound_at);
    assert.ok(!contact.profile_name_ciphertext.includes("Ana"));

    const api = await ch.api(`/v1/contacts/${CUSTOMER}`);
    assert.equal(api.status, 200);
    assert.equal(api.body.contact.profile_name, "Ana Souza");
    assert.equal(api.body.contact.customer_service_window.open, true);
  } finally {
    await ch.close();
  }
});

Deno.test("statuses delivered, read and failed(131047), duplicated and out of order, end in the right state", async () => {
  const ch = await startChannel();
  try {
    const [contact] = await sql<{ id: string }>(
      "insert into contacts (client_id, wa_id) values ($1, $2) returning id",
      [ch.clientId, CUSTOMER],
    );
    const [phone] = await sql<{ id: string }>("select id from phone_numbers where client_id = $1", [
      ch.clientId,
    ]);
    const mk = async (w: string) =>
      (await sql<{ id: string }>(
        "insert into messages (client_id, phone_number_id, contact_id, direction, type, status, wamid, recipient) values ($1, $2, $3, 'outbound', 'text', 'accepted', $4, $5) returning id",
        [ch.clientId, phone.id, contact.id, w, CUSTOMER],
      ))[0].id;
    const readMsg = wamid(), deliveredMsg = wamid(), failedMsg = wamid(), readOnly = wamid();
    for (const w of [readMsg, deliveredMsg, failedMsg, readOnly]) await mk(w);
    const t = (s: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, s));
    const err131047 = [{
      code: 131047,
      title: "Re-engagement message",
      message: "Re-engagement message",
      error_data: {
        details:
          "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
      },
    }];
    const events = [
      status(readMsg, "read", { at: t(3) }),
      status(readMsg, "sent", { at: t(1) }),
      status(readMsg, "delivered", { at: t(2) }),
      status(readMsg, "read", { at: t(3) }), // duplicate
      status(deliveredMsg, "delivered", { at: t(2) }),
      status(deliveredMsg, "sent", { at: t(1) }),
      status(deliveredMsg, "delivered", { at: t(2) }),
      status(failedMsg, "sent", { at: t(1) }),
      status(failedMsg, "failed", { at: t(2), errors: err131047 }),
      status(failedMsg, "sent", { at: t(1) }),
      status(readOnly, "read", { at: t(4) }), // read without delivered
    ];
    for (const e of events) {
      assert.equal((await ch.postWebhook(envelope(ch.wabaId, ch.phoneNumberId, e))).status, 200);
    }
    await ch.idle();
    const rows = await sql<
      {
        wamid: string;
        status: string;
        error: Array<{ code: number }>;
        read_at: Date | null;
        delivered_at: Date | null;
      }
    >(
      "select wamid, status, error, read_at, delivered_at from messages where client_id = $1",
      [ch.clientId],
    );
    const by = Object.fromEntries(rows.map((r) => [r.wamid, r]));
    assert.equal(by[readMsg].status, "read");
    assert.equal(by[deliveredMsg].status, "delivered");
    assert.equal(by[failedMsg].status, "failed");
    assert.equal(by[failedMsg].error[0].code, 131047);
    assert.equal(by[readOnly].status, "read");
    assert.ok(by[readOnly].read_at && by[readOnly].delivered_at, "read implies delivered");
    const raw = await sql<{ n: number }>(
      "select count(*)::int as n from message_status_events where client_id = $1",
      [ch.clientId],
    );
    assert.equal(raw[0].n, 8, "every distinct raw status event is kept once");
  } finally {
    await ch.close();
  }
});

Deno.test("a webhook for an unknown phone number is acknowledged and recorded for operators", async () => {
  const ch = await startChannel();
  try {
    const res = await ch.postWebhook(
      envelope("1111", "999000111222", inbound(CUSTOMER, "text", { text: { body: "hello?" } })),
    );
    assert.equal(res.status, 200);
    await ch.idle();
    const rows = await sql(
      "select kind from unrouted_webhook_events where phone_number_id = '999000111222'",
    );
    assert.deepEqual(rows, [{ kind: "message" }]);
  } finally {
    await ch.close();
  }
});

Deno.test("a batch with several entries, changes, messages and statuses is read whole", async () => {
  const ch = await startChannel();
  try {
    const a = inbound(CUSTOMER, "text", { text: { body: "one" } });
    const b = inbound("447700900124", "text", { text: { body: "two" } });
    const payload = {
      object: "whatsapp_business_account",
      entry: [0, 1].map(() => ({
        id: ch.wabaId,
        changes: [
          {
            field: "messages",
            value: {
              ...(envelope(ch.wabaId, ch.phoneNumberId, {}).entry[0].changes[0].value as Record<
                string,
                unknown
              >),
              contacts: [...a.contacts, ...b.contacts],
              messages: [...a.messages, ...b.messages].map((m) => ({ ...m, id: wamid() })),
            },
          },
          {
            field: "message_template_status_update",
            value: { event: "APPROVED", message_template_name: "order_update" },
          },
        ],
      })),
    };
    assert.equal((await ch.postWebhook(payload)).status, 200);
    await ch.idle();
    const msgs = await sql<{ n: number }>(
      "select count(*)::int as n from messages where client_id = $1",
      [ch.clientId],
    );
    assert.equal(msgs[0].n, 4);
    const fields = await sql<{ field: string }>(
      "select field from whatsapp_account_events where client_id = $1",
      [ch.clientId],
    );
    assert.deepEqual(fields.map((f) => f.field), [
      "message_template_status_update",
      "message_template_status_update",
    ]);
    const shown = await ch.api("/v1/account-events?field=message_template_status_update");
    assert.equal(shown.status, 200);
    assert.equal(shown.body.data.length, 2);
    assert.equal(shown.body.data[0].value.event, "APPROVED");
  } finally {
    await ch.close();
  }
});

Deno.test("a webhook over the size limit is refused with 413", async () => {
  const ch = await startChannel({ env: { WEBHOOK_MAX_BODY_BYTES: "2048" } });
  try {
    const big = envelope(
      ch.wabaId,
      ch.phoneNumberId,
      inbound(CUSTOMER, "text", { text: { body: "x".repeat(4000) } }),
    );
    const res = await ch.postWebhook(big);
    assert.equal(res.status, 413);
  } finally {
    await ch.close();
  }
});

Deno.test("a user known only by business-scoped id (no phone number sent) gets a contact and a reply", async () => {
  const ch = await startChannel();
  try {
    const { buildInbound } = await import("../../_support/meta_payloads.ts");
    const bsuid = "US.13491208655302741918";
    const { contact, message } = buildInbound({
      type: "text",
      payload: { body: "hi, it's me" },
      waId: null,
      userId: bsuid,
      fromUserId: true,
    });
    assert.equal(
      (await ch.postWebhook(
        envelope(ch.wabaId, ch.phoneNumberId, { contacts: [contact], messages: [message] }),
      )).status,
      200,
    );
    await ch.idle();
    const [c] = await sql<{ wa_id: string | null; user_id: string }>(
      "select wa_id, user_id from contacts where client_id = $1",
      [ch.clientId],
    );
    assert.deepEqual(c, { wa_id: null, user_id: bsuid });
    const api = await ch.api(`/v1/contacts/${bsuid}`);
    assert.equal(api.status, 200);
    assert.equal(api.body.contact.customer_service_window.open, true);
  } finally {
    await ch.close();
  }
});
