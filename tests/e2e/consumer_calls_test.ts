import assert from "node:assert/strict";
import { join } from "node:path";
import { startAppProcess } from "../../tools/stack/app_process.ts";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { startWorkerApp } from "../../bench/workerd.ts";
import { eventually } from "../_support/channel.ts";
import { type DatabaseCall, watchDatabaseCalls } from "../_support/database_calls.ts";
import {
  buildEnvelope,
  buildInbound,
  buildMessagesChange,
  buildStatus,
  signedRequestInit,
} from "../_support/meta_payloads.ts";
import { createClientWithPhone, sql, testStack } from "../_support/stack.ts";

/**
 * Ten Meta deliveries, on each runtime as it is deployed (Deno with its in-process jobs; the
 * deploy bundle in workerd with its queue consumer driven in batches), their jobs held until all
 * are acknowledged and then let go at once: the database calls the app makes while answering,
 * and its consumer's afterwards, in order, as a proxy in front of the Supabase gateway notes them.
 */
async function databaseCalls(runtime: "deno" | "workerd", deliveries = 10) {
  const stack = testStack();
  const { phoneNumberId } = await createClientWithPhone(`Consumer calls (${runtime})`);
  const watch = watchDatabaseCalls(stack.supabaseUrl);
  const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix: "consumer-calls-" });
  const port = await freePort();
  const env = {
    ...stack.appEnv,
    SUPABASE_URL: watch.url,
    LOG_LEVEL: "error",
    SWEEP_INTERVAL_SECONDS: "3600",
  };
  let release: () => void;
  let stop: () => Promise<void>;
  if (runtime === "deno") {
    const app = await startAppProcess({
      runtime,
      env,
      port,
      dir,
      entry: join(ROOT, "bench/deno_held_jobs.ts"),
    });
    release = () => Deno.kill(app.pid, "SIGUSR2");
    stop = app.stop;
  } else {
    const app = await startWorkerApp({ env, port, dir, held: true });
    release = () => app.broker.release();
    stop = app.stop;
  }
  try {
    await watch.settled();
    const start = watch.calls().length;
    const keys: string[] = [];
    for (let i = 0; i < deliveries; i++) {
      // one inbound message and one status for an unknown wamid, as Meta mixes them
      const body = buildEnvelope([
        buildMessagesChange({
          phoneNumberId,
          inbound: [buildInbound({ type: "text", waId: `4477009${String(i).padStart(5, "0")}` })],
          statuses: [buildStatus({ status: "delivered" })],
        }),
      ]);
      const init = await signedRequestInit(body, stack.secrets.meta_app_secret);
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/whatsapp`, init);
      assert.equal(res.status, 200, await res.text());
      keys.push(init.headers["x-hub-signature-256"].slice("sha256=".length));
    }
    await watch.settled(500);
    const from = watch.calls().length;
    release();
    await eventually(async () => {
      const [{ n }] = await sql<{ n: number }>(
        `select count(*)::int as n from webhook_inbox
          where provider = 'meta' and dedupe_key = any($1) and processed_at is not null`,
        [keys],
      );
      return n === deliveries;
    }, `the ${runtime} consumer to process the deliveries`);
    await watch.settled(500);
    const shown = (calls: DatabaseCall[]) =>
      calls.map((c) => `${c.method} ${c.path.split("?")[0]}`);
    return {
      fetch: shown(watch.calls().slice(start, from)),
      consumer: shown(watch.calls().slice(from)),
    };
  } finally {
    await stop();
    await watch.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("on Workers a signed webhook is answered without a database call, and its consumer records the batch in one insert, then makes the calls Deno's makes", async () => {
  const deno = await databaseCalls("deno");
  const workerd = await databaseCalls("workerd");
  // Deno records each delivery before answering (here one at a time: the requests came one by one)
  assert.deepEqual(deno.fetch, Array(10).fill("POST /rest/v1/webhook_inbox"));
  assert.deepEqual(workerd.fetch, []);
  assert.ok(deno.consumer.some((c) => c.includes("/rpc/ingest")), deno.consumer.join("\n"));
  assert.ok(
    !workerd.consumer.some((c) => c.includes("claim_inbox_items")),
    workerd.consumer.join("\n"),
  );
  assert.deepEqual(workerd.consumer, ["POST /rest/v1/webhook_inbox", ...deno.consumer]);
});
