import assert from "node:assert/strict";
import { join } from "node:path";
import { startAppProcess } from "../../tools/stack/app_process.ts";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { startWorkerApp } from "../../bench/workerd.ts";
import { bearer, clientWithKey } from "../_support/app.ts";
import { eventually } from "../_support/channel.ts";
import { watchDatabaseCalls, writes } from "../_support/database_calls.ts";
import { testStack } from "../_support/stack.ts";

/**
 * Health checks and Meta's verify handshake are what probes and Meta send most often, and they
 * read no client's data: neither may cost a database write, on either runtime. The app's calls go
 * through a proxy in front of the stack's Supabase gateway, which notes each one; an API request
 * afterwards shows that a write would have been seen (its request log row).
 */
for (const runtime of ["deno", "workerd"] as const) {
  Deno.test(`on ${runtime}, health checks and Meta handshakes write nothing to the database`, async () => {
    const stack = testStack();
    const watch = watchDatabaseCalls(stack.supabaseUrl);
    const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix: "probe-writes-" });
    const port = await freePort();
    const env = {
      ...stack.appEnv,
      SUPABASE_URL: watch.url,
      LOG_LEVEL: "error",
      // no sweep while the test watches: it writes on its own schedule
      SWEEP_INTERVAL_SECONDS: "3600",
    };
    const app = runtime === "deno"
      ? await startAppProcess({ runtime, env, port, dir })
      : await startWorkerApp({ env, port, dir });
    const base = `http://127.0.0.1:${port}`;
    try {
      const { key } = await clientWithKey({ name: `Probe writes (${runtime})` });
      await watch.settled();
      const from = watch.calls().length;
      const handshake = (token: string) =>
        `${base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${
          encodeURIComponent(token)
        }&hub.challenge=4242`;
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        for (const url of [`${base}/healthz`, handshake(stack.secrets.meta_verify_token)]) {
          const res = await fetch(url);
          await res.body?.cancel();
          statuses.push(res.status);
        }
      }
      const refused = await fetch(handshake("not-the-token"));
      await refused.body?.cancel();
      assert.deepEqual([...new Set(statuses)], [200]);
      assert.equal(refused.status, 403);
      // longer than Deno's request log window and the queue's batch timeout (1 s)
      await new Promise((r) => setTimeout(r, 2500));
      const during = watch.calls().slice(from);
      assert.deepEqual(writes(during), []);
      assert.ok(during.length >= 1, "the health checks read the database through the proxy");

      const me = await fetch(`${base}/v1/me`, { headers: bearer(key) });
      await me.body?.cancel();
      assert.equal(me.status, 200);
      await eventually(
        () =>
          Promise.resolve(
            writes(watch.calls().slice(from)).some((c) =>
              c.path.startsWith("/rest/v1/api_request_log")
            ),
          ),
        "the API request's log row to be written through the proxy",
        10_000,
      );
    } finally {
      await app.stop();
      await watch.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}
