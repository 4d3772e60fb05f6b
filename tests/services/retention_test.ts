import assert from "node:assert/strict";
import { startChannel } from "../_support/channel.ts";
import { envelope, inbound, wamid } from "../_support/meta_fixtures.ts";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";
import { sweep } from "../../src/services/sweeper.ts";
import {
  clientWithToken,
  createTestClient,
  serviceClient,
  signJwt,
  sql,
  testStack,
} from "../_support/stack.ts";

/** A sweep of the channel's app that starts a retention run of every class now. */
const sweepNow = (ch: Awaited<ReturnType<typeof startChannel>>) =>
  sweep(ch.app.deps.services, { retention: { force: true, timeBudgetMs: 60_000 } });

/** Rows a sweep's retention pass removed of one data class. */
function removed(result: Awaited<ReturnType<typeof sweepNow>>, dataClass: string): number {
  assert.ok("batches" in result.retention, JSON.stringify(result.retention));
  const batch = result.retention.batches.find((b) => b.dataClass === dataClass);
  assert.ok(batch, `the pass ran ${dataClass}: ${JSON.stringify(result.retention)}`);
  assert.equal(batch.error, null);
  return batch.rows;
}

Deno.test("a processed delivery gives up its raw payload and keeps its row, so Meta's retry of it is still a duplicate", async () => {
  const ch = await startChannel();
  try {
    const id = wamid();
    const delivery = envelope(
      ch.wabaId,
      ch.phoneNumberId,
      inbound("447700900321", "text", { text: { body: "raw copy" } }, { id }),
    );
    assert.equal((await ch.postWebhook(delivery)).status, 200);
    await ch.idle();
    const key =
      (await signMetaPayload(JSON.stringify(delivery), testStack().secrets.meta_app_secret))
        .slice("sha256=".length);
    const rows = () =>
      sql<{ processed: boolean; payload: boolean }>(
        "select processed_at is not null as processed, payload_ciphertext is not null as payload from webhook_inbox where dedupe_key = $1",
        [key],
      );
    assert.deepEqual(await rows(), [{ processed: true, payload: false }]);
    const [stored] = await sql<{ n: number }>(
      "select count(*)::int as n from messages where wamid = $1",
      [id],
    );
    assert.equal(stored.n, 1, "the message itself is stored");

    // Meta retries the same bytes (our answer was lost): acknowledged, not recorded again
    assert.equal((await ch.postWebhook(delivery)).status, 200);
    await ch.idle();
    assert.deepEqual(await rows(), [{ processed: true, payload: false }]);
  } finally {
    await ch.close();
  }
});

Deno.test("an unprocessed delivery cannot lose its payload", async () => {
  await assert.rejects(
    sql(
      "insert into webhook_inbox (provider, dedupe_key, payload_ciphertext) values ('meta', $1, null)",
      [crypto.randomUUID()],
    ),
    /webhook_inbox_payload_until_processed/,
  );
});

Deno.test("the sweeper applies the inbox's retention: done rows after 7 days, set-aside rows after 30, pending rows never", async () => {
  const ch = await startChannel();
  try {
    const prefix = `retention-${crypto.randomUUID()}-`;
    // age in days since received and processed; last_error marks a row set aside for operators
    const cases = [
      { name: "done-8d", received: 8, processed: 8, payload: null, error: null, kept: false },
      { name: "done-6d", received: 6, processed: 6, payload: null, error: null, kept: true },
      // received long ago, processed (after retries) recently: its 7 days count from processing
      { name: "late-done", received: 9, processed: 2, payload: null, error: null, kept: true },
      { name: "aside-8d", received: 8, processed: 8, payload: "ct", error: "bad", kept: true },
      { name: "aside-31d", received: 31, processed: 31, payload: "ct", error: "bad", kept: false },
      { name: "pending-40d", received: 40, processed: null, payload: "ct", error: "x", kept: true },
    ];
    const ids = new Map<string, number>();
    for (const c of cases) {
      const [row] = await sql<{ id: number }>(
        `insert into webhook_inbox (provider, dedupe_key, payload_ciphertext, received_at, processed_at, last_error)
         values ('meta', $1, $2, now() - make_interval(days => $3), now() - make_interval(days => $4), $5)
         returning id`,
        [prefix + c.name, c.payload, c.received, c.processed, c.error],
      );
      ids.set(c.name, Number(row.id));
    }
    // an operator's record of an unrouted event outlives the delivery it came in
    const [unrouted] = await sql<{ id: number }>(
      "insert into unrouted_webhook_events (phone_number_id, kind, inbox_id) values ('1', 'message', $1) returning id",
      [ids.get("done-8d")],
    );
    // the pending one is not due yet (retry backoff), so the sweep does not also process it
    await sql(
      "update webhook_inbox set next_attempt_at = now() + interval '1 hour' where id = $1",
      [
        ids.get("pending-40d"),
      ],
    );

    const result = await sweepNow(ch);
    assert.ok(removed(result, "raw_webhook_payloads") >= 2);
    const left = await sql<{ dedupe_key: string }>(
      "select dedupe_key from webhook_inbox where dedupe_key like $1 order by id",
      [`${prefix}%`],
    );
    assert.deepEqual(
      left.map((r) => r.dedupe_key.slice(prefix.length)),
      cases.filter((c) => c.kept).map((c) => c.name),
    );
    const [record] = await sql<{ inbox_id: number | null }>(
      "select inbox_id from unrouted_webhook_events where id = $1",
      [unrouted.id],
    );
    assert.equal(record.inbox_id, null);
  } finally {
    await ch.close();
  }
});

Deno.test("a retention pass removes at most max_rows rows of each class and is for the service role only", async () => {
  const prefix = `retention-cap-${crypto.randomUUID()}-`;
  await sql(
    `insert into webhook_inbox (provider, dedupe_key, received_at, processed_at)
     select 'meta', $1 || n, now() - interval '10 days', now() - interval '10 days'
     from generate_series(1, 3) as n`,
    [prefix],
  );
  const client = await signJwt({ role: "authenticated", client_id: await createTestClient() });
  for (const [who, token] of [["anon", null], ["a client", client]] as const) {
    const denied = await clientWithToken(token).rpc("run_retention", { max_rows: 2, force: true });
    assert.equal(denied.error?.code, "42501", `${who} may not run retention`);
  }
  const first = await serviceClient().rpc("run_retention", { max_rows: 2, force: true });
  assert.equal(first.error, null);
  const batches = first.data as Array<{ data_class: string; rows: number; finished: boolean }>;
  const inbox = batches.find((b) => b.data_class === "raw_webhook_payloads");
  assert.deepEqual({ rows: inbox?.rows, finished: inbox?.finished }, { rows: 2, finished: false });
  assert.ok(batches.every((b) => b.rows <= 2), JSON.stringify(batches));
  // the run stays open until the class is drained: the next pass goes on with it
  const second = await serviceClient().rpc("run_retention", { max_rows: 1000 });
  assert.equal(second.error, null);
  const next = (second.data as Array<{ data_class: string; finished: boolean }>)
    .find((b) => b.data_class === "raw_webhook_payloads");
  assert.equal(next?.finished, true);
  const [left] = await sql<{ n: number }>(
    "select count(*)::int as n from webhook_inbox where dedupe_key like $1",
    [`${prefix}%`],
  );
  assert.equal(left.n, 0);
});

Deno.test("the sweeper applies client webhook deliveries' retention: finished ones after 30 days, pending ones never", async () => {
  const ch = await startChannel();
  try {
    const [endpoint] = await sql<{ id: string }>(
      "insert into webhook_endpoints (client_id, url, secret_ciphertext) values ($1, 'https://example.com/h', 'ct') returning id",
      [ch.clientId],
    );
    const cases = [
      { name: "succeeded-31d", status: "succeeded", age: 31, kept: false },
      { name: "failed-31d", status: "failed", age: 31, kept: false },
      { name: "cancelled-31d", status: "cancelled", age: 31, kept: false },
      { name: "succeeded-29d", status: "succeeded", age: 29, kept: true },
      { name: "failed-29d", status: "failed", age: 29, kept: true },
      { name: "pending-40d", status: "pending", age: 40, kept: true },
    ];
    for (const c of cases) {
      await sql(
        `insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext, status, created_at, next_attempt_at)
         values ($1, $2, $3, 'message.status', case when $4 = 'succeeded' then null else 'ct' end, $4,
           now() - make_interval(days => $5), now() + interval '1 hour')`,
        [ch.clientId, endpoint.id, c.name, c.status, c.age],
      );
    }
    const result = await sweepNow(ch);
    assert.ok(removed(result, "webhook_deliveries") >= 3);
    const left = await sql<{ event_id: string }>(
      "select event_id from webhook_deliveries where endpoint_id = $1 order by created_at desc",
      [endpoint.id],
    );
    assert.deepEqual(
      left.map((r) => r.event_id).sort(),
      cases.filter((c) => c.kept).map((c) => c.name).sort(),
    );
  } finally {
    await ch.close();
  }
});
