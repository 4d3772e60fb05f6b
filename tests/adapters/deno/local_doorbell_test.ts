import assert from "node:assert/strict";
import { localDoorbell } from "../../../src/adapters/deno/local_doorbell.ts";
import { jsonLogger } from "../../../src/adapters/logging/json_logger.ts";
import type { Job } from "../../../src/ports/jobs.ts";

const logger = jsonLogger({ level: "error", write: () => {} });

const delivery = (clientId: string, n: number): Job => ({
  kind: "webhook_delivery",
  clientId,
  deliveryId: `${clientId}-${n}`,
});

/** A doorbell whose batches are recorded; the first batch waits until `release()`. */
function recordingBell(options: { concurrency: number; batchSize: number }) {
  const batches: Job[][] = [];
  let release = () => {};
  const first = new Promise<void>((resolve) => release = resolve);
  const bell = localDoorbell({
    ...options,
    logger,
    handle: async (jobs) => {
      batches.push(jobs);
      if (batches.length === 1) await first;
    },
  });
  return { bell, batches, release };
}

const batchOf = (batches: Job[][], id: string) =>
  batches.findIndex((b) => b.some((j) => j.kind === "webhook_delivery" && j.deliveryId === id));

Deno.test("localDoorbell() runs one client's single job in the next batch, however many another rang before it", async () => {
  const { bell, batches, release } = recordingBell({ concurrency: 1, batchSize: 10 });
  await bell.ring(Array.from({ length: 1_000 }, (_, i) => delivery("A", i)));
  await bell.ring([delivery("B", 0)]);
  release();
  await bell.idle();
  assert.equal(batches.flat().length, 1_001);
  // the batch running when B rang was all A's; the next one takes turns
  assert.equal(batchOf(batches, "B-0"), 1);
  assert.deepEqual(
    batches[1].map((j) => j.kind === "webhook_delivery" && j.clientId),
    ["A", "B", "A", "A", "A", "A", "A", "A", "A", "A"],
  );
  // each client's jobs keep their order
  const a = batches.flat().filter((j) => j.kind === "webhook_delivery" && j.clientId === "A");
  assert.deepEqual(
    a.map((j) => j.kind === "webhook_delivery" && j.deliveryId),
    Array.from({ length: 1_000 }, (_, i) => `A-${i}`),
  );
});

Deno.test("localDoorbell() takes turns among more clients than a batch holds, so none waits on the first ones", async () => {
  const { bell, batches, release } = recordingBell({ concurrency: 1, batchSize: 4 });
  await bell.ring([delivery("first", 0)]);
  // 12 clients with 50 jobs each: a batch of 4 cannot take one of each, the next ones go on
  for (let c = 0; c < 12; c++) {
    await bell.ring(Array.from({ length: 50 }, (_, i) => delivery(`C${c}`, i)));
  }
  release();
  await bell.idle();
  // every client's first job within the first 12 jobs after the running batch: 3 batches
  for (let c = 0; c < 12; c++) {
    assert.ok(
      batchOf(batches, `C${c}-0`) <= 3,
      `C${c} waited until batch ${batchOf(batches, `C${c}-0`)}`,
    );
  }
});

Deno.test("localDoorbell() gives Meta deliveries turns by route key, beside clients' jobs", async () => {
  const { bell, batches, release } = recordingBell({ concurrency: 1, batchSize: 2 });
  const inbox = (id: number, route: string | null): Job => ({ kind: "inbox", id, route });
  await bell.ring([inbox(0, "PN-A")]);
  await bell.ring(Array.from({ length: 20 }, (_, i) => inbox(i + 1, "PN-A")));
  await bell.ring([inbox(100, "PN-B"), inbox(101, null)]);
  release();
  await bell.idle();
  const at = (id: number) =>
    batches.findIndex((b) => b.some((j) => j.kind === "inbox" && j.id === id));
  assert.ok(at(100) <= 2 && at(101) <= 2, `batches ${at(100)} and ${at(101)}`);
});
