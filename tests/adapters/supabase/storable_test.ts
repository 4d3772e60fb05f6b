import assert from "node:assert/strict";
import fc from "fast-check";
import { storableFetch, storableJson } from "../../../src/adapters/supabase/storable.ts";

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
