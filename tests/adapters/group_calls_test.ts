import assert from "node:assert/strict";
import { groupByKey } from "../../src/adapters/group_calls.ts";

Deno.test("calls for one key that arrive together share one flush, and each gets its own answer", async () => {
  const flushes: Array<[string, number[]]> = [];
  const call = groupByKey<number, string>((key, items) => {
    flushes.push([key, items]);
    return Promise.resolve(items.map((i) => `${key}:${i * 10}`));
  });
  const answers = await Promise.all([call("a", 1), call("b", 2), call("a", 3), call("a", 4)]);
  assert.deepEqual(answers, ["a:10", "b:20", "a:30", "a:40"]);
  assert.deepEqual(flushes, [["a", [1, 3, 4]], ["b", [2]]]);
});

Deno.test("a full batch is sent at once, the rest after the window", async () => {
  const sizes: number[] = [];
  const call = groupByKey<number, number>((_key, items) => {
    sizes.push(items.length);
    return Promise.resolve(items);
  }, { maxBatch: 3, windowMs: 5 });
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((i) => call("k", i))), [1, 2, 3, 4, 5]);
  assert.deepEqual(sizes, [3, 2]);
});

Deno.test("a failed flush fails every caller in it, and later calls start a new batch", async () => {
  let fail = true;
  const call = groupByKey<number, number>((_key, items) =>
    fail ? Promise.reject(new Error("database down")) : Promise.resolve(items)
  );
  const results = await Promise.allSettled([call("k", 1), call("k", 2)]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /database down/);
  fail = false;
  assert.equal(await call("k", 7), 7);
});

Deno.test("a flush that answers the wrong number of items fails its callers instead of misrouting", async () => {
  const call = groupByKey<number, number>(() => Promise.resolve([1]));
  const results = await Promise.allSettled([call("k", 1), call("k", 2)]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /Expected 2 answers, got 1/);
});
