/**
 * Cooperative scheduling for long loops on one thread. `await` on a settled promise only queues a
 * microtask, and the runtime serves no request, timer or socket until the microtask queue is
 * empty: a loop over tens of thousands of events awaiting cached lookups holds the whole process.
 * The function returned here resolves at once until `sliceMs` have passed since the last turn,
 * then waits for a macrotask (setTimeout 0), which lets everything else waiting run first.
 * The clock is read every 64 calls, so a call costs a counter increment and a microtask.
 */
export function timeSlices(sliceMs = 10): () => Promise<void> | void {
  let since = performance.now();
  let calls = 0;
  return function nextSlice() {
    if ((++calls & 63) !== 0 || performance.now() - since < sliceMs) return;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        since = performance.now();
        resolve();
      }, 0)
    );
  };
}
