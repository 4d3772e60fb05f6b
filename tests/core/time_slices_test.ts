import assert from "node:assert/strict";
import { timeSlices } from "../../src/core/time_slices.ts";

/** Spins for `ms` of wall-clock time: a step of a loop that computes without awaiting I/O. */
function busy(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* computing */ }
}

Deno.test("timeSlices() lets a timer run in the middle of a long loop that awaits only settled promises", async () => {
  const nextSlice = timeSlices(10);
  let fired = -1;
  setTimeout(() => fired = step, 0);
  let step = 0;
  for (; step < 400; step++) {
    busy(0.5);
    await Promise.resolve(); // a cached lookup: a microtask, no turn for timers or sockets
    await nextSlice();
  }
  // 200 ms of work in 10 ms slices: the timer ran in one of the first few slices
  assert.ok(fired >= 0 && fired < 100, `the timer ran at step ${fired} of 400`);
});

Deno.test("timeSlices() does not give up a turn before its slice is used", async () => {
  const nextSlice = timeSlices(60_000);
  let fired = false;
  setTimeout(() => fired = true, 0);
  for (let step = 0; step < 10_000; step++) await nextSlice();
  assert.equal(fired, false);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(fired, true);
});
