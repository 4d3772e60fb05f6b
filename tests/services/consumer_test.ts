import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { jobConsumer, type JobHandlers } from "../../src/services/consumer.ts";
import { jsonLogger } from "../../src/adapters/logging/json_logger.ts";

Deno.test("jobConsumer() hands each kind's jobs of a batch to that kind's handler, together", async () => {
  const got: Record<string, Job[]> = {};
  const take = (kind: string) => (jobs: Job[]) => (got[kind] = jobs, Promise.resolve());
  const handle = jobConsumer(
    {
      inbox: take("inbox"),
      send: take("send"),
      webhook_delivery: take("webhook_delivery"),
      plugin_event: take("plugin_event"),
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
  ];
  await handle(jobs);
  assert.deepEqual(got.inbox.map((j) => j.kind === "inbox" && j.id), [1, 2]);
  assert.deepEqual(got.send.map((j) => j.kind === "send" && j.messageId), ["m1", "m2"]);
  assert.equal(got.webhook_delivery.length, 1);
  assert.equal(got.plugin_event.length, 1);
});

Deno.test("a job of a kind nobody handles is logged and dropped; the rest of its batch runs", async () => {
  const lines: string[] = [];
  let sent = 0;
  const handle = jobConsumer(
    {
      inbox: () => Promise.resolve(),
      send: (jobs) => (sent += jobs.length, Promise.resolve()),
      webhook_delivery: () => Promise.resolve(),
      plugin_event: () => Promise.resolve(),
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
