import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { consumerSettings, startWorkerApp } from "../../bench/workerd.ts";
import { bearer, clientWithKey } from "../_support/app.ts";
import { eventually } from "../_support/channel.ts";
import { sql, testStack } from "../_support/stack.ts";

/**
 * On Workers the API request log goes through the queue: each request sends its entry, and the
 * consumer writes a batch's entries in one insert. The deploy bundle runs in workerd, its queue
 * consumer driven in batches of wrangler.toml's max_batch_size (bench/workerd.ts).
 */
Deno.test("on Workers, request log entries reach the database through the queue, many rows per insert, with the request's own time", async () => {
  const stack = testStack();
  const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix: "workers-log-" });
  const port = await freePort();
  const app = await startWorkerApp({ env: { ...stack.appEnv, LOG_LEVEL: "error" }, port, dir });
  try {
    const { clientId, key } = await clientWithKey({ name: "Workers request log" });
    const tag = crypto.randomUUID().slice(0, 8);
    const count = 30;
    const requested: Array<{ id: string; at: number }> = [];
    for (let i = 0; i < count; i++) {
      const id = `wlog-${tag}-${String(i).padStart(2, "0")}`;
      const res = await fetch(`http://127.0.0.1:${port}/v1/me`, {
        headers: {
          ...bearer(key),
          "x-request-id": id,
          "user-agent": "glooft-test/2.0",
          // what Cloudflare's edge sets on every request
          "cf-connecting-ip": "198.51.100.77",
        },
      });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      requested.push({ id, at: Date.now() });
    }
    type Row = {
      request_id: string;
      client_id: string;
      route: string;
      status: number;
      ip: string;
      user_agent: string;
      created_at: Date;
      xid: string;
    };
    const rows = await eventually(async () => {
      const found = await sql<Row>(
        `select request_id, client_id, route, status, host(ip) as ip, user_agent, created_at,
           xmin::text as xid
           from api_request_log where request_id like $1 order by request_id`,
        [`wlog-${tag}-%`],
      );
      return found.length === count ? found : null;
    }, `the ${count} request log rows`);
    for (const [i, row] of rows.entries()) {
      assert.deepEqual(
        [row.request_id, row.client_id, row.route, row.status, row.ip, row.user_agent],
        [requested[i].id, clientId, "/v1/me", 200, "198.51.100.77", "glooft-test/2.0"],
      );
      // the time the request came, which retention counts from, not when the consumer wrote it
      const at = row.created_at.getTime();
      assert.ok(
        at <= requested[i].at && at >= requested[i].at - 5000,
        `${row.request_id} is dated when it was requested`,
      );
    }
    // rows written by one INSERT share its transaction id
    const inserts = new Set(rows.map((r) => r.xid)).size;
    const { batchSize } = await consumerSettings();
    assert.ok(
      inserts <= Math.ceil(count / batchSize) + 1,
      `${count} rows in ${inserts} inserts (batches of up to ${batchSize})`,
    );
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
