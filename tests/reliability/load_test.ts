import assert from "node:assert/strict";
import { ingestLoad, loadKnobs, META_GUIDANCE } from "../_support/load_run.ts";
import { recordFigures } from "../_support/reliability.ts";

/**
 * Ingest under an open arrival-rate model on localhost (requests go out on a schedule, answered
 * or not, as Meta's do), with the app as its own process on a throwaway stack. `deno task test`
 * offers a tenth of the goal for seconds; `deno task reliability` the goal (2,000/s) for a minute.
 * Figures from a busy machine say nothing about the code: docs/reliability.md records where they
 * were taken.
 */

Deno.test("ingest at a steady rate: acknowledgements within Meta's guidance, every event stored once", async () => {
  const { rate, seconds } = loadKnobs();
  const run = await ingestLoad([{ name: "steady", rate, seconds }]);
  const [steady] = run.phases;
  await recordFigures("load", `steady ${rate}/s for ${seconds} s`, {
    ...steady.figures,
    ...run.figures,
  });
  assert.deepEqual(
    { lost: run.lost, duplicated: run.duplicated, unacknowledged: run.unacknowledged },
    { lost: 0, duplicated: 0, unacknowledged: 0 },
  );
  assert.deepEqual(
    steady.answers.byStatus,
    { 200: steady.figures.offered },
    "every delivery answered 200",
  );
  assert.ok(
    steady.median <= META_GUIDANCE.medianMs,
    `median acknowledgement ${steady.median} ms ≤ ${META_GUIDANCE.medianMs} ms`,
  );
  assert.ok(
    steady.shareOver1s < META_GUIDANCE.shareOver1s,
    `${(steady.shareOver1s * 100).toFixed(2)} % acknowledged later than 1 s (< 1 %)`,
  );
});

Deno.test("a 10× burst: nothing lost or duplicated, every delivery acknowledged once Meta retries, and the backlog drains", async () => {
  const { rate, seconds, burstSeconds } = loadKnobs();
  const run = await ingestLoad([
    { name: "steady before", rate, seconds: Math.min(seconds, 10) },
    { name: "burst", rate: rate * 10, seconds: burstSeconds },
  ]);
  const burst = run.phases[1];
  // what a 10× burst does to the acknowledgements is measured, not judged: a host sized for the
  // steady rate cannot answer ten times it as fast; what must hold is that nothing is lost
  await recordFigures("load", `burst ${rate * 10}/s for ${burstSeconds} s`, {
    ...burst.figures,
    ...run.figures,
  });
  assert.deepEqual(
    { lost: run.lost, duplicated: run.duplicated, unacknowledged: run.unacknowledged },
    { lost: 0, duplicated: 0, unacknowledged: 0 },
  );
  assert.equal(burst.figures.answers_4xx, 0, "a signed delivery is never answered 4xx");
  assert.equal(run.pending, 0, "the backlog drained");
});
