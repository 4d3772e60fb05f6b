import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { eachJob, jobConsumer, type JobHandlers, JobsFailed } from "../../src/services/consumer.ts";
import { localDoorbell } from "../../src/adapters/deno/local_doorbell.ts";
import { jsonLogger } from "../../src/adapters/logging/json_logger.ts";

Deno.test("jobConsumer() hands each kind's jobs of a batch to that kind's handler, together", async () => {
  const got: Record<string, Job[]> = {};
  const take = (kind: string) => (jobs: Job[]) => (got[kind] = jobs, Promise.resolve());
  const handle = jobConsumer(
    {
      delivery: () => Promise.resolve(),
      inbox: take("inbox"),
      send: take("send"),
      webhook_delivery: take("webhook_delivery"),
      plugin_event: take("plugin_event"),
      template_sync: take("template_sync"),
      privacy_part: take("privacy_part"),
      client_offboarding: take("client_offboarding"),
    } as JobHandlers,
    jsonLogger({ level: "error", write: () => {} }),
  );
  const jobs: Job[] = [
    { kind: "inbox", id: 1 },
    { kind: "send", clientId: "c", messageId: "m1" },
    { kind: "inbox", id: 2 },
    { kind: "webhook_delivery", clientId: "c", deliveryId: "d" },
    { kind: "send", clientId: "c", messageId: "m2" },
    { kind: "plugin_event", clientId: "c", deliveryId: "p" },
    { kind: "template_sync", clientId: "c", wabaAccountId: "w" },
    { kind: "privacy_part", clientId: "c", partId: "q" },
    { kind: "client_offboarding", clientId: "c" },
  ];
  await handle(jobs);
  assert.deepEqual(got.inbox.map((j) => j.kind === "inbox" && j.id), [1, 2]);
  assert.deepEqual(got.send.map((j) => j.kind === "send" && j.messageId), ["m1", "m2"]);
  assert.equal(got.webhook_delivery.length, 1);
  assert.equal(got.plugin_event.length, 1);
  assert.equal(got.template_sync.length, 1);
  assert.equal(got.privacy_part.length, 1);
  assert.equal(got.client_offboarding.length, 1);
});

Deno.test("a job of a kind nobody handles is logged and dropped; the rest of its batch runs", async () => {
  const lines: string[] = [];
  let sent = 0;
  const handle = jobConsumer(
    {
      delivery: () => Promise.resolve(),
      inbox: () => Promise.resolve(),
      send: (jobs) => (sent += jobs.length, Promise.resolve()),
      webhook_delivery: () => Promise.resolve(),
      plugin_event: () => Promise.resolve(),
      template_sync: () => Promise.resolve(),
      privacy_part: () => Promise.resolve(),
      client_offboarding: () => Promise.resolve(),
    } as JobHandlers,
    jsonLogger({ level: "warn", write: (line) => lines.push(line) }),
  );
  await handle([
    { kind: "from_a_newer_version", id: 1 } as unknown as Job,
    { kind: "toString" } as unknown as Job,
    { kind: "send", clientId: "c", messageId: "m" },
  ]);
  assert.equal(sent, 1);
  assert.equal(lines.filter((l) => l.includes("job_kind_unknown")).length, 2);
});

/** Resolves after `ms`, then marks `name` finished in `finished`. */
const slow = (finished: Set<string>, name: string, ms: number) =>
  new Promise<void>((resolve) => setTimeout(() => (finished.add(name), resolve()), ms));

Deno.test("a job that throws does not cut its batch short: every other job runs to its end, then one error names each failure", async () => {
  const finished = new Set<string>();
  const handle = jobConsumer(
    {
      delivery: () => Promise.resolve(),
      // a kind's handler that fails as a whole, late
      inbox: () => slow(finished, "inbox", 30).then(() => Promise.reject(new Error("inbox down"))),
      send: eachJob((job: { messageId: string }) => {
        if (job.messageId === "m1") return Promise.reject(new Error("graph said no"));
        // thrown before any promise exists
        if (job.messageId === "m3") throw new Error("thrown at once");
        return slow(finished, job.messageId, 80);
      }),
      webhook_delivery: eachJob((job: { deliveryId: string }) =>
        slow(finished, job.deliveryId, 120)
      ),
      plugin_event: () => Promise.resolve(),
      template_sync: () => Promise.resolve(),
      privacy_part: () => Promise.resolve(),
      client_offboarding: () => Promise.resolve(),
    } as JobHandlers,
    jsonLogger({ level: "error", write: () => {} }),
  );
  const error = await handle([
    { kind: "send", clientId: "c", messageId: "m1" },
    { kind: "send", clientId: "c", messageId: "m2" },
    { kind: "send", clientId: "c", messageId: "m3" },
    { kind: "inbox", id: 7 },
    { kind: "webhook_delivery", clientId: "c", deliveryId: "d1" },
  ]).then(() => null, (e) => e);
  // read at the moment the batch failed, not later: the slow jobs were already done
  assert.deepEqual([...finished].sort(), ["d1", "inbox", "m2"]);
  assert.ok(error instanceof JobsFailed, String(error));
  assert.deepEqual(error.failures.map((f) => f.job).sort(), ["inbox ×1", "send m1", "send m3"]);
  assert.match(error.message, /^3 failed in a batch of 5 jobs: /);
  for (const why of ["graph said no", "thrown at once", "inbox down"]) {
    assert.ok(error.message.includes(why), error.message);
  }
});

Deno.test("a batch with failures is logged once by Deno's doorbell, after its last job ended, naming each failure", async () => {
  const seen: string[] = [];
  const logger = jsonLogger({ level: "error", write: (line) => seen.push(line) });
  const handle = jobConsumer(
    {
      delivery: () => Promise.resolve(),
      inbox: () => Promise.resolve(),
      send: eachJob((job: { messageId: string }) =>
        job.messageId === "bad"
          ? Promise.reject(new Error("no"))
          : new Promise((resolve) => setTimeout(resolve, 50)).then(() => seen.push("good ended"))
      ),
      webhook_delivery: () => Promise.resolve(),
      plugin_event: () => Promise.resolve(),
      template_sync: () => Promise.resolve(),
      privacy_part: () => Promise.resolve(),
      client_offboarding: () => Promise.resolve(),
    } as JobHandlers,
    logger,
  );
  const doorbell = localDoorbell({ handle, logger, batchSize: 10 });
  await doorbell.ring([
    { kind: "send", clientId: "c", messageId: "bad" },
    { kind: "send", clientId: "c", messageId: "good" },
  ]);
  await doorbell.idle();
  doorbell.close();
  assert.equal(seen.length, 2, seen.join("\n"));
  assert.equal(seen[0], "good ended");
  const logged = JSON.parse(seen[1]);
  assert.equal(logged.event, "job_failed");
  assert.equal(logged.message, "1 failed in a batch of 2 jobs: send bad: no");
});
