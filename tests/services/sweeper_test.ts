import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { clientWebhooks } from "../../src/services/client_webhooks.ts";
import { sweep } from "../../src/services/sweeper.ts";
import { createClientWithPhone, sql, testApp } from "../_support/stack.ts";

/**
 * A sweep through the real database with a doorbell that only records: which due work it rings
 * when one client has a backlog and another has one item, due later than all of the backlog.
 */
async function sweepOnce(limit: number) {
  const { deps } = await testApp();
  const rung: Job[] = [];
  const hooks = clientWebhooks({ ...deps.services, allowPrivate: true });
  await sweep({
    ...deps.services,
    doorbell: { ring: (jobs) => (rung.push(...jobs), Promise.resolve()) },
  }, { limit, extra: [hooks.due] });
  return rung;
}

const BACKLOG = 300;

Deno.test("a sweep reaches a client's one due delivery, message and Meta delivery while another client has a backlog of each", async () => {
  const a = await createClientWithPhone("Backlog");
  const b = await createClientWithPhone("Single item");
  const endpoint = async (clientId: string) =>
    (await sql<{ id: string }>(
      "insert into webhook_endpoints (client_id, url, secret_ciphertext) values ($1, 'https://example.com/h', 'ct') returning id",
      [clientId],
    ))[0].id;
  const [aEndpoint, bEndpoint] = [await endpoint(a.clientId), await endpoint(b.clientId)];
  // A's backlog has been due for an hour; B's item became due a moment ago
  const deliveries = (clientId: string, endpointId: string, n: number, ago: string) =>
    sql<{ id: string }>(
      `insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext, next_attempt_at)
       select $1, $2, 'evt_' || gen_random_uuid(), 'message.status', 'ct', now() - $4::interval
       from generate_series(1, $3) returning id`,
      [clientId, endpointId, n, ago],
    );
  const messages = (client: typeof a, n: number, ago: string) =>
    sql<{ id: string }>(
      `insert into messages (client_id, phone_number_id, direction, type, status, next_attempt_at)
       select $1, $2, 'outbound', 'text', 'queued', now() - $4::interval
       from generate_series(1, $3) returning id`,
      [client.clientId, client.phoneId, n, ago],
    );
  const inbox = (route: string, n: number, ago: string) =>
    sql<{ id: string }>(
      `insert into webhook_inbox (provider, dedupe_key, payload_ciphertext, route_key, next_attempt_at)
       select 'meta', gen_random_uuid()::text, 'ct', $1, now() - $3::interval
       from generate_series(1, $2) returning id`,
      [route, n, ago],
    );
  await deliveries(a.clientId, aEndpoint, BACKLOG, "1 hour");
  await messages(a, BACKLOG, "1 hour");
  await inbox(a.phoneNumberId, BACKLOG, "1 hour");
  const [bDelivery] = await deliveries(b.clientId, bEndpoint, 1, "1 second");
  const [bMessage] = await messages(b, 1, "1 second");
  const [bInbox] = await inbox(b.phoneNumberId, 1, "1 second");
  try {
    // 50 of each kind: far fewer than A's backlog, more than the clients with due work
    const rung = await sweepOnce(50);
    assert.ok(rung.some((j) => j.kind === "send" && j.messageId === bMessage.id), "B's message");
    assert.ok(
      rung.some((j) => j.kind === "webhook_delivery" && j.deliveryId === bDelivery.id),
      "B's delivery",
    );
    const meta = rung.find((j) => j.kind === "inbox" && String(j.id) === String(bInbox.id));
    assert.ok(meta?.kind === "inbox", "B's Meta delivery");
    assert.equal(meta.route, b.phoneNumberId);
    // A still gets the rest of each sweep
    assert.ok(rung.filter((j) => j.kind === "send" && j.clientId === a.clientId).length >= 40);
  } finally {
    // nothing left due for other tests' sweeps
    await sql("delete from webhook_deliveries where client_id = any($1)", [[
      a.clientId,
      b.clientId,
    ]]);
    await sql("delete from messages where client_id = any($1)", [[a.clientId, b.clientId]]);
    await sql("delete from webhook_inbox where route_key = any($1)", [[
      a.phoneNumberId,
      b.phoneNumberId,
    ]]);
  }
});
