import assert from "node:assert/strict";
import {
  CLIENT_EVENT_SCHEMAS,
  ClientEventSchema,
  type ClientEventType,
} from "../../../src/core/webhooks/client_events.ts";
import { WEBHOOK_EVENT_TYPES } from "../../../src/services/client_webhooks.ts";
import { eventually } from "../../_support/channel.ts";
import { emulatedChannel } from "../../_support/emulated_channel.ts";
import { envelope, inbound } from "../../_support/meta_fixtures.ts";
import { sql } from "../../_support/stack.ts";
import { orderUpdate, storeTemplates } from "../../_support/templates.ts";

/** A local endpoint that keeps every body it is sent. */
function receiver() {
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    bodies.push(await req.text());
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    events: () =>
      bodies.map((b) => JSON.parse(b) as { type: string; data: Record<string, unknown> }),
    close: () => server.shutdown(),
  };
}

/**
 * An event conforms when its schema accepts it and keeps all of it: parsing drops keys a schema
 * does not declare, so a field the server sends but the document does not describe fails too.
 */
function assertConforms(event: unknown) {
  const parsed = ClientEventSchema.safeParse(event);
  assert.ok(parsed.success, `${JSON.stringify(event)}: ${JSON.stringify(parsed.error?.issues)}`);
  assert.deepEqual(parsed.data, event, "every field the server sends is in the schema");
}

Deno.test("every client event type has a schema, and the schemas are the ones the endpoints API accepts", () => {
  assert.deepEqual(Object.keys(CLIENT_EVENT_SCHEMAS).sort(), [...WEBHOOK_EVENT_TYPES].sort());
});

Deno.test("what the pipeline sends for inbound messages, Meta's statuses (delivered and failed), a refused token, a consent change, template changes (by webhook and by sync) and a test matches the event schemas", async () => {
  const rx = receiver();
  // the access token the emulator expects is another one: every send is refused with 190
  const refused = await emulatedChannel({}, { tokens: { "0": "another token" } });
  const { ch, emulator } = await emulatedChannel({}, { undeliverable: ["447700900802"] });
  try {
    for (const c of [ch, refused.ch]) {
      const created = await c.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: rx.url }),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      if (c === ch) {
        const test = await c.api(`/v1/webhook-endpoints/${created.body.endpoint.id}/test`, {
          method: "POST",
        });
        assert.equal(test.status, 202);
      }
    }
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900801", "text", { text: { body: "Is it in stock?" } }),
      ),
    );
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900801", "image", { image: { id: "1234", mime_type: "image/jpeg" } }),
      ),
    );
    const consent = await ch.api("/v1/contacts/447700900804/consent", {
      method: "PUT",
      body: JSON.stringify({ status: "opted_out", source: "support_ticket" }),
    });
    assert.equal(consent.status, 200);
    for (const to of ["447700900801", "447700900802"]) {
      const sent = await ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify(orderUpdate(to)),
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
    }
    const failing = await refused.ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(orderUpdate("447700900803")),
    });
    assert.equal(failing.status, 202, JSON.stringify(failing.body));
    // Meta's template webhooks (a quality change, then a pause), and a sync that finds a template
    // Meta no longer lists (DELETED)
    await emulator.changeTemplate(ch.wabaId, "order_update", "en_US", { quality: "RED" });
    await emulator.changeTemplate(ch.wabaId, "order_update", "en_US", { status: "PAUSED" });
    const [account] = await sql<{ id: string }>(
      "select id from whatsapp_business_accounts where client_id = $1",
      [ch.clientId],
    );
    await storeTemplates(ch.clientId, account.id, [{ name: "gone_at_meta", language: "en_US" }]);
    await sql(
      "update message_template_syncs set last_synced_at = now() - interval '1 hour', last_attempt_at = now() - interval '1 hour' where client_id = $1",
      [ch.clientId],
    );
    const synced = await ch.api("/v1/templates/sync", { method: "POST" });
    assert.equal(synced.body.data?.[0]?.deleted, 1, JSON.stringify(synced.body));

    const wanted = (events: ReturnType<typeof rx.events>) => {
      const statuses = events.filter((e) => e.type === "message.status").map((e) => e.data.status);
      return events.some((e) => e.type === "webhook.test") &&
        events.filter((e) => e.type === "message.received").length === 2 &&
        events.some((e) => e.type === "account.alert") &&
        events.some((e) => e.type === "contact.consent_changed") &&
        statuses.includes("delivered") &&
        events.some((e) => e.type === "template.quality" && e.data.quality_score === "RED") &&
        events.some((e) => e.type === "template.status" && e.data.status === "PAUSED") &&
        events.some((e) => e.type === "template.status" && e.data.status === "DELETED") &&
        // Meta's failure (131026) and ours after the refused token
        statuses.filter((s) => s === "failed").length === 2;
    };
    const events = await eventually(
      () => Promise.resolve(wanted(rx.events()) ? rx.events() : null),
      "every kind of event",
    );
    for (const event of events) assertConforms(event);
    const seen = new Set(events.map((e) => e.type as ClientEventType));
    assert.deepEqual([...seen].sort(), [...WEBHOOK_EVENT_TYPES].sort());
    assert.ok(emulator.messages().length >= 2);
  } finally {
    await ch.close();
    await refused.ch.close();
    await rx.close();
  }
});

Deno.test("the schemas refuse an event that lacks a documented field or has the wrong type", () => {
  const base = {
    type: "message.status",
    timestamp: "2026-12-01T08:00:00.000Z",
    data: {
      message_id: crypto.randomUUID(),
      wamid: "wamid.X",
      status: "read",
      occurred_at: "2026-12-01T08:00:00+00:00",
      errors: null,
    },
  };
  assertConforms(base);
  const { occurred_at: _, ...withoutTime } = base.data;
  assert.equal(ClientEventSchema.safeParse({ ...base, data: withoutTime }).success, false);
  assert.equal(ClientEventSchema.safeParse({ ...base, type: "message.sent" }).success, false);
  assert.throws(() => assertConforms({ ...base, data: { ...base.data, extra: 1 } }));
});
