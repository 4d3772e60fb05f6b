import assert from "node:assert/strict";
import worker from "../../src/entry/workers.ts";
import type { Job } from "../../src/ports/jobs.ts";
import type { RequestLogMessage } from "../../src/adapters/workers/queue_request_log.ts";
import { testStack } from "../_support/stack.ts";

/**
 * The Workers entry's queue consumer, called as Cloudflare calls it, with the app's real
 * configuration but a database that does not answer (nothing listens on its port): what the
 * consumer does with messages that are the only record of what they carry.
 */
Deno.test("a delivery or request log entry the consumer cannot write comes back later, and is sent again as a new message before Cloudflare's retries run out", async () => {
  const sent: Array<{ body: unknown; options?: { delaySeconds?: number } }> = [];
  const bindings = {
    ...testStack().appEnv,
    LOG_LEVEL: "error",
    SUPABASE_URL: "http://127.0.0.1:9",
    // the stand-in for Cloudflare's queue binding: it only records what is sent
    JOBS: {
      send: (body: unknown, options?: { delaySeconds?: number }) => {
        sent.push({ body, options });
        return Promise.resolve();
      },
      sendBatch: () => Promise.resolve(),
    },
  };
  const settled: Record<string, string> = {};
  const message = (name: string, body: Job | RequestLogMessage, attempts: number) => ({
    body,
    attempts,
    ack: () => (settled[name] = "ack"),
    retry: (o?: { delaySeconds?: number }) => (settled[name] = `retry ${o?.delaySeconds}`),
  });
  const delivery = (key: string): Job => ({
    kind: "delivery",
    provider: "meta",
    dedupeKey: key,
    route: null,
    ciphertext: "s1.v1.inbox:2026-12-01.x.y",
  });
  const entry: RequestLogMessage = {
    kind: "request_log",
    entry: {
      client_id: null,
      request_id: "req-1",
      method: "GET",
      route: "/v1/me",
      status: 401,
      latency_ms: 1,
      ip: null,
      user_agent: null,
      created_at: new Date().toISOString(),
    },
  };
  await worker.queue({
    messages: [
      message("first try", delivery("a"), 1),
      message("third try", delivery("b"), 3),
      message("sixth try", delivery("c"), 6),
      message("log, sixth try", entry, 6),
      message("job", { kind: "inbox", id: 1 }, 1),
    ],
  }, bindings);
  assert.deepEqual(settled, {
    "first try": "retry 10",
    "third try": "retry 40",
    "sixth try": "ack",
    "log, sixth try": "ack",
    // a job names a row: it is retried as before, and the sweeper is its backstop
    "job": "retry 10",
  });
  const byKind = (a: { body: unknown }, b: { body: unknown }) =>
    JSON.stringify(a.body).localeCompare(JSON.stringify(b.body));
  assert.deepEqual(
    sent.sort(byKind),
    [
      { body: delivery("c"), options: { delaySeconds: 300 } },
      { body: entry, options: { delaySeconds: 300 } },
    ].sort(byKind),
  );
});
