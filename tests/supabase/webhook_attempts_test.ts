import assert from "node:assert/strict";
import pg from "pg";
import {
  finishWebhookAttempts,
  insertWebhookDeliveries,
  type WebhookAttempt,
} from "../../src/adapters/supabase/webhook_endpoints_store.ts";
import { clientWithToken, createTestClient, signJwt, sql, testStack } from "../_support/stack.ts";

/** finish_webhook_attempts straight through PostgREST, as the client webhooks service calls it. */

async function endpointWithDeliveries(count: number, streak = { failures: 0, sinceMinutes: 0 }) {
  const clientId = await createTestClient("Webhook attempts");
  const [endpoint] = await sql<{ id: string }>(
    `insert into webhook_endpoints (client_id, url, secret_ciphertext, consecutive_failures, failing_since)
     values ($1, 'https://example.com/hook', 'ct', $2,
       case when $2 > 0 then now() - make_interval(mins => $3) end)
     returning id`,
    [clientId, streak.failures, streak.sinceMinutes],
  );
  const deliveries = await sql<{ id: string }>(
    `insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext, locked_until)
     select $1, $2, 'evt_' || n, 'message.status', 'ct', now() + interval '1 minute'
     from generate_series(1, $3) as n returning id`,
    [clientId, endpoint.id, count],
  );
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  return { clientId, endpointId: endpoint.id, ids: deliveries.map((d) => d.id), db };
}

const attempt = (deliveryId: string, over: Partial<WebhookAttempt> = {}): WebhookAttempt => ({
  deliveryId,
  succeeded: true,
  statusCode: 204,
  error: null,
  retryInMs: null,
  gone: false,
  disableAfterMs: 3 * 86_400_000,
  disableAfterFailures: 1000,
  failuresOverMs: 3_600_000,
  ...over,
});

const failure = (deliveryId: string, over: Partial<WebhookAttempt> = {}) =>
  attempt(deliveryId, {
    succeeded: false,
    statusCode: 500,
    error: "HTTP 500",
    retryInMs: 60_000,
    ...over,
  });

async function endpointState(id: string) {
  const [row] = await sql<{ consecutive_failures: number; failing: boolean; enabled: boolean }>(
    "select consecutive_failures, failing_since is not null as failing, enabled from webhook_endpoints where id = $1",
    [id],
  );
  return row;
}

Deno.test("attempts that all succeeded are finished together: every delivery succeeded without its payload, the endpoint's streak cleared, another client's delivery answered null and untouched", async () => {
  const mine = await endpointWithDeliveries(3, { failures: 4, sinceMinutes: 10 });
  const other = await endpointWithDeliveries(1);
  const answers = await finishWebhookAttempts(mine.db, [
    attempt(mine.ids[0]),
    attempt(other.ids[0]),
    attempt(mine.ids[1], { statusCode: 200 }),
    attempt(mine.ids[2]),
  ]);
  assert.deepEqual(answers, [{ disabled: false }, null, { disabled: false }, { disabled: false }]);
  const rows = await sql<
    {
      id: string;
      status: string;
      attempts: number;
      code: number;
      delivered: boolean;
      locked: boolean;
      payload: boolean;
    }
  >(
    `select id, status, attempts, last_status_code as code, delivered_at is not null as delivered,
       locked_until is not null as locked, payload_ciphertext is not null as payload
     from webhook_deliveries where id = any($1)`,
    [[...mine.ids, ...other.ids]],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const [id, code] of [[mine.ids[0], 204], [mine.ids[1], 200], [mine.ids[2], 204]] as const) {
    assert.deepEqual(
      { ...byId.get(id)!, id: undefined },
      {
        id: undefined,
        status: "succeeded",
        attempts: 1,
        code,
        delivered: true,
        locked: false,
        payload: false,
      },
      "succeeded, its payload dropped",
    );
  }
  assert.deepEqual(
    { ...byId.get(other.ids[0])!, id: undefined },
    {
      id: undefined,
      status: "pending",
      attempts: 0,
      code: null,
      delivered: false,
      locked: true,
      payload: true,
    },
    "another client's delivery is untouched",
  );
  assert.deepEqual(await endpointState(mine.endpointId), {
    consecutive_failures: 0,
    failing: false,
    enabled: true,
  });
});

Deno.test("attempts with a failure among them are finished in order: a success after a failure clears the streak, a failure after a success starts one", async () => {
  const a = await endpointWithDeliveries(2);
  assert.deepEqual(await finishWebhookAttempts(a.db, [failure(a.ids[0]), attempt(a.ids[1])]), [
    { disabled: false },
    { disabled: false },
  ]);
  assert.deepEqual(await endpointState(a.endpointId), {
    consecutive_failures: 0,
    failing: false,
    enabled: true,
  });

  const b = await endpointWithDeliveries(2);
  await finishWebhookAttempts(b.db, [attempt(b.ids[0]), failure(b.ids[1])]);
  assert.deepEqual(await endpointState(b.endpointId), {
    consecutive_failures: 1,
    failing: true,
    enabled: true,
  });
  const states = await sql<
    { status: string; attempts: number; waits: boolean; payload: boolean }
  >(
    `select status, attempts, next_attempt_at > now() as waits,
       payload_ciphertext is not null as payload
     from webhook_deliveries where id = any($1::uuid[]) order by array_position($1::uuid[], id)`,
    [b.ids],
  );
  assert.deepEqual(states, [
    { status: "succeeded", attempts: 1, waits: false, payload: false },
    { status: "pending", attempts: 1, waits: true, payload: true },
  ], "the success drops its payload, the retry keeps it");
});

Deno.test("an empty call finishes nothing and answers an empty list", async () => {
  const a = await endpointWithDeliveries(1);
  assert.deepEqual(await finishWebhookAttempts(a.db, []), []);
});

/**
 * A second connection that takes rows in the order a delete of an endpoint does: the endpoint,
 * then (on delete cascade) its deliveries.
 */
async function deleterHolding(endpointId: string) {
  const other = new pg.Client({ connectionString: testStack().adminDbUrl });
  await other.connect();
  await other.query("begin");
  await other.query("set local lock_timeout = '5s'");
  await other.query("select 1 from webhook_endpoints where id = $1 for update", [endpointId]);
  return other;
}

for (
  const [label, make] of [
    ["a failed attempt", (id: string) => failure(id)],
    ["a successful attempt that clears a failure streak", (id: string) => attempt(id)],
  ] as const
) {
  Deno.test(`finishing ${label} takes the endpoint before the delivery, so deleting the endpoint meanwhile cannot deadlock`, async () => {
    const t = await endpointWithDeliveries(1, { failures: 3, sinceMinutes: 5 });
    const other = await deleterHolding(t.endpointId);
    try {
      // a supabase-js builder runs only once awaited: start it now
      const finishing = (async () =>
        await t.db.rpc("finish_webhook_attempts", {
          attempts: [{
            delivery_id: t.ids[0],
            succeeded: make(t.ids[0]).succeeded,
            attempt_status_code: make(t.ids[0]).statusCode,
            attempt_error: make(t.ids[0]).error,
            retry_in_ms: make(t.ids[0]).retryInMs,
            gone: false,
            disable_after_ms: 86_400_000,
            disable_after_failures: 1000,
            failures_over_ms: 3_600_000,
          }],
        }))();
      await new Promise((r) => setTimeout(r, 300));
      // the cascade's step: taken in the old order, the call holds this delivery now and waits
      // for the endpoint, and PostgreSQL aborts one of the two as a deadlock
      await other.query("delete from webhook_deliveries where id = $1", [t.ids[0]]);
      await other.query("delete from webhook_endpoints where id = $1", [t.endpointId]);
      await other.query("commit");
      const { data, error } = await finishing;
      assert.equal(error, null);
      assert.deepEqual(data, [null], "the delivery went with its endpoint");
    } finally {
      await other.end();
    }
  });
}

Deno.test("deliveries recorded while one of their endpoints is deleted are recorded for the others, and none fails", async () => {
  const t = await endpointWithDeliveries(0);
  const [kept] = await sql<{ id: string }>(
    "insert into webhook_endpoints (client_id, url, secret_ciphertext) values ($1, 'https://example.com/kept', 'ct') returning id",
    [t.clientId],
  );
  const row = (endpointId: string) => ({
    id: crypto.randomUUID(),
    client_id: t.clientId,
    endpoint_id: endpointId,
    event_id: `evt_${crypto.randomUUID()}`,
    event_type: "message.status",
    payload_ciphertext: "ct",
  });
  const gone = row(t.endpointId);
  const stays = row(kept.id);
  const other = await deleterHolding(t.endpointId);
  try {
    await other.query("delete from webhook_endpoints where id = $1", [t.endpointId]);
    const recording = insertWebhookDeliveries(t.db, [gone, stays]);
    await new Promise((r) => setTimeout(r, 300));
    await other.query("commit");
    assert.deepEqual(await recording, new Set([stays.id]));
  } finally {
    await other.end();
  }
  const rows = await sql<{ id: string }>(
    "select id from webhook_deliveries where client_id = $1",
    [t.clientId],
  );
  assert.deepEqual(rows.map((r) => r.id), [stays.id]);
});

Deno.test("deliveries recorded first are removed with their endpoint when it is deleted after", async () => {
  const t = await endpointWithDeliveries(0);
  const id = crypto.randomUUID();
  const recorded = await insertWebhookDeliveries(t.db, [{
    id,
    client_id: t.clientId,
    endpoint_id: t.endpointId,
    event_id: "evt_1",
    event_type: "message.status",
    payload_ciphertext: "ct",
  }]);
  assert.deepEqual(recorded, new Set([id]));
  const removed = await t.db.from("webhook_endpoints").delete().eq("id", t.endpointId).select("id");
  assert.equal(removed.error, null);
  assert.equal((await sql("select 1 from webhook_deliveries where id = $1", [id])).length, 0);
});
