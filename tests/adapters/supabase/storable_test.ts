import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MAX_JSON_DEPTH,
  shallowJson,
  storableFetch,
  storableJson,
  storableTimestamp,
  TOO_DEEP,
} from "../../../src/adapters/supabase/storable.ts";

/** Any code point, NUL and lone surrogates most of all */
const hostileChar = fc.oneof(
  fc.constant("\u0000"),
  fc.constant("\\"),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

/** The oracle: each U+0000 and each lone surrogate (String#toWellFormed) as U+FFFD, keys too */
function expected(value: unknown): unknown {
  const fix = (s: string) => s.replaceAll("\u0000", "\ufffd").toWellFormed();
  if (typeof value === "string") return fix(value);
  if (Array.isArray(value)) return value.map(expected);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fix(k), expected(v)]));
  }
  return value;
}

Deno.test("storableJson() turns every NUL and lone surrogate of any JSON value, keys included, into U+FFFD and keeps the rest", () => {
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: hostileChar }), (value) => {
      const text = storableJson(JSON.stringify(value));
      assert.ok(text.isWellFormed());
      assert.ok(!/\\u0000/.test(text.replaceAll("\\\\", "")), "no escaped NUL left");
      // JSON.stringify() writes -0 as 0: compare with what JSON itself keeps
      assert.deepEqual(JSON.parse(text), expected(JSON.parse(JSON.stringify(value))));
    }),
    { numRuns: 500, seed: 20261202 },
  );
});

Deno.test("storableJson() returns text without NUL or lone surrogates unchanged", () => {
  const safeChar = fc.string({ unit: "binary", minLength: 1, maxLength: 1 })
    .filter((c) => c !== "\u0000");
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: safeChar }), (value) => {
      const text = JSON.stringify(value);
      assert.equal(storableJson(text), text);
    }),
    { numRuns: 300, seed: 20261202 },
  );
});

Deno.test("storableJson() reads escapes as JSON does: an escaped backslash is not an escape, an escaped pair is kept, hex in either case", () => {
  const cases: Array<[string, string]> = [
    [String.raw`"\\u0000"`, String.raw`"\\u0000"`],
    [String.raw`"\\\u0000"`, String.raw`"\\\ufffd"`],
    [String.raw`"\ud83d\ude00"`, String.raw`"\ud83d\ude00"`],
    [String.raw`"\uD83D\uDE00"`, String.raw`"\uD83D\uDE00"`],
    [String.raw`"\uD800x"`, String.raw`"\ufffdx"`],
    [String.raw`"\ud800\ud800\udc00"`, String.raw`"\ufffd\ud800\udc00"`],
    [String.raw`"\udc00\ud800"`, String.raw`"\ufffd\ufffd"`],
    [String.raw`{"\u0000":"\u0000"}`, String.raw`{"\ufffd":"\ufffd"}`],
    [String.raw`"\u00000"`, String.raw`"\ufffd0"`],
  ];
  for (const [input, output] of cases) {
    assert.equal(storableJson(input), output, input);
    JSON.parse(output);
  }
});

Deno.test("storableFetch() hands the wrapped fetch a storable body, and the same init when nothing changes", async () => {
  const seen: Array<RequestInit | undefined> = [];
  const f = storableFetch((_input, init) => {
    seen.push(init);
    return Promise.resolve(new Response(null, { status: 204 }));
  });
  const clean = { method: "POST", body: '{"a":"b"}' };
  await f("http://db.invalid/x", clean);
  await f("http://db.invalid/x", { method: "POST", body: String.raw`{"a":"\u0000"}` });
  await f("http://db.invalid/x");
  assert.equal(seen[0], clean);
  assert.equal(seen[1]?.body, String.raw`{"a":"\ufffd"}`);
  assert.equal(seen[2], undefined);
});

Deno.test("shallowJson() cuts what lies deeper than the bound, keeps the rest as it is, and gives null for undefined", () => {
  const nested = (depth: number, inner: unknown = "x"): unknown => {
    let v = inner;
    for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
    return v;
  };
  const within = { a: nested(MAX_JSON_DEPTH - 1), b: [1, "two", null] };
  assert.equal(shallowJson(within), within, "the same object: nothing copied");
  const deep = { keep: 1, deep: nested(50_000) };
  const cut = shallowJson(deep) as { keep: number; deep: unknown };
  assert.equal(cut.keep, 1);
  let depth = 1;
  let v = cut.deep;
  while (typeof v === "object" && v !== null) {
    v = Array.isArray(v) ? v[0] : (v as { k: unknown }).k;
    depth++;
  }
  assert.equal(v, TOO_DEEP);
  assert.equal(depth, MAX_JSON_DEPTH);
  assert.ok(JSON.stringify(cut, (_, x) => x), "serialisable with a replacer, as postgrest-js does");
  assert.equal(shallowJson(undefined), null);
  v = deep.deep;
  for (let i = 0; i <= MAX_JSON_DEPTH; i++) v = Array.isArray(v) ? v[0] : (v as { k: unknown }).k;
  assert.equal(typeof v, "object", "the input is not changed");
});

Deno.test("storableTimestamp() drops the sign of years past 9999 and leaves others alone", () => {
  assert.equal(storableTimestamp("+010000-01-01T00:00:00.000Z"), "010000-01-01T00:00:00.000Z");
  assert.equal(storableTimestamp("2026-12-01T10:00:00.000Z"), "2026-12-01T10:00:00.000Z");
});
