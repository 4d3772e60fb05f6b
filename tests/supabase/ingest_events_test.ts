import assert from "node:assert/strict";
import { clientWithToken, createClientWithPhone, signJwt, sql } from "../_support/stack.ts";

/**
 * public.ingest_whatsapp_events: the Meta ingest with the plugin deliveries of new inbound
 * messages in the same transaction, straight through PostgREST as the consumer calls it.
 */

async function tenant() {
  const { clientId, phoneId } = await createClientWithPhone("Ingest events");
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  const message = () => ({
    id: crypto.randomUUID(),
    phone_number_id: phoneId,
    wa_id: "447700900751",
    user_id: null,
    profile_name_ciphertext: null,
    wamid: `wamid.E_${crypto.randomUUID()}`,
    type: "text",
    content_ciphertext: "ct",
    media: null,
    context_wamid: null,
    timestamp: new Date().toISOString(),
  });
  const event = (messageId: string) => ({
    id: crypto.randomUUID(),
    plugin_id: "opt-out",
    event_type: "message.received",
    payload_ciphertext: "e1.a.b",
    message_id: messageId,
  });
  const ingest = async (batch: Record<string, unknown>) => {
    const { data, error } = await db.rpc("ingest_whatsapp_events", { batch });
    if (error) throw new Error(error.message);
    return data as { inserted: string[]; plugin_events: string[] };
  };
  return { clientId, message, event, ingest };
}

Deno.test("a plugin delivery is recorded with its message, once: a retried delivery's message is not new, and neither is its event", async () => {
  const t = await tenant();
  const m = t.message();
  const first = t.event(m.id);
  const stored = await t.ingest({ messages: [m], plugin_events: [first] });
  assert.deepEqual(stored.inserted, [m.id]);
  assert.deepEqual(stored.plugin_events, [first.id]);

  // Meta retries the delivery: the walk makes new ids for the same wamid
  const again = { ...m, id: crypto.randomUUID() };
  const retried = await t.ingest({ messages: [again], plugin_events: [t.event(again.id)] });
  assert.deepEqual(retried.inserted, []);
  assert.deepEqual(retried.plugin_events, []);
  const rows = await sql("select id from plugin_deliveries where client_id = $1", [t.clientId]);
  assert.deepEqual(rows, [{ id: first.id }]);
});

Deno.test("a batch whose plugin delivery is refused stores neither the delivery nor the message", async () => {
  const t = await tenant();
  const m = t.message();
  const refused = await t.ingest({
    messages: [m],
    plugin_events: [{ ...t.event(m.id), plugin_id: "Not A Plugin" }],
  }).then(() => null, (e: Error) => e.message);
  assert.match(refused ?? "", /plugin_deliveries_plugin_id_check/);
  assert.deepEqual(
    await sql("select 1 from messages where client_id = $1", [t.clientId]),
    [],
    "the message went with it",
  );
});
