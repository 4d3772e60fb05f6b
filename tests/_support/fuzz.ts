/**
 * Seeded property runs for the reliability suite's hostile-input and security tests, and the
 * hostile values they are built from.
 *
 * - `RELIABILITY_SEED` replays a run (every property prints the seed it used);
 *   `RELIABILITY_PATH` with it replays one counterexample (fast-check prints the path).
 * - `RELIABILITY_RUNS` scales every property: the default keeps `deno task test` fast;
 *   `deno task reliability` asks for more.
 * - `RELIABILITY_SHRINK_SECONDS` caps how long a failure is shrunk (each try costs real requests).
 */
import fc from "fast-check";
import { recordFigures } from "./reliability.ts";

const envInt = (name: string, fallback: number) => {
  const raw = Deno.env.get(name);
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isSafeInteger(value) ? value : fallback;
};

export const SEED = envInt("RELIABILITY_SEED", (Date.now() ^ (Math.random() * 2 ** 31)) | 0);
/** the run size every property scales from (see runs()) */
export const RUNS = Math.max(1, envInt("RELIABILITY_RUNS", 10));
const PATH = Deno.env.get("RELIABILITY_PATH");
const SHRINK_MS = envInt("RELIABILITY_SHRINK_SECONDS", 10) * 1000;

/** `factor` × RELIABILITY_RUNS, at least one */
export const runs = (factor = 1) => Math.max(1, Math.round(RUNS * factor));

/**
 * Runs `predicate` over `arbitrary` with the suite's seed and run size, records the figures for
 * docs/reliability.md, and fails with fast-check's report (seed, path, shrunk counterexample).
 * `predicate` returns how many requests (inputs) it tried; it throws to fail.
 */
export async function checkProperty<T>(
  section: "hostile input" | "security",
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<number>,
  options: { runs?: number; properties?: number; examples?: T[] } = {},
) {
  const numRuns = options.runs ?? runs();
  console.log(
    `[reliability] ${name}: seed ${SEED}, ${numRuns} runs (replay: RELIABILITY_SEED=${SEED})`,
  );
  let inputs = 0;
  let failedAt: number | null = null;
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (value) => {
      // shrinking replays real requests: past the budget, further candidates are skipped and
      // the smallest failure found so far is the one reported
      if (failedAt !== null && performance.now() - failedAt > SHRINK_MS) fc.pre(false);
      try {
        inputs += await predicate(value);
      } catch (error) {
        failedAt ??= performance.now();
        throw error;
      }
    }),
    {
      seed: SEED,
      numRuns,
      ...(PATH ? { path: PATH } : {}),
      // known-valid inputs first: every run covers the paths they reach
      ...(options.examples ? { examples: options.examples.map((e) => [e] as [T]) } : {}),
    },
  );
  const properties = options.properties ?? 1;
  await recordFigures(section, name, {
    "inputs tried": inputs,
    "properties held": details.failed ? 0 : properties,
    "failures found": details.failed ? 1 : 0,
    seed: SEED,
  });
  if (details.failed) {
    const cause = details.errorInstance as Error | undefined;
    throw new Error(
      `${fc.defaultReportMessage(details) ?? "Property failed"}\nGot: ${cause?.message ?? cause}`,
    );
  }
}

/**
 * Records a deterministic check (not a fast-check run) in the same shape; `run` counts what it
 * tries in `tally.inputs`, so a failing check still reports how far it got.
 */
export async function checkCases(
  section: "hostile input" | "security",
  name: string,
  run: (tally: { inputs: number }) => Promise<void> | void,
  properties = 1,
) {
  const tally = { inputs: 0 };
  let failed = true;
  try {
    await run(tally);
    failed = false;
  } finally {
    await recordFigures(section, name, {
      "inputs tried": tally.inputs,
      "properties held": failed ? 0 : properties,
      "failures found": failed ? 1 : 0,
    });
  }
}

// ---------------------------------------------------------------- hostile values

/**
 * Code points that break naive code: NUL (PostgreSQL text and jsonb refuse it), lone surrogates
 * (not encodable as UTF-8; PostgreSQL's JSON parser refuses their escapes), BOM and
 * non-characters, bidi overrides, line separators JSON allows and JavaScript once did not,
 * escapes that look like escapes, and the punctuation of PostgREST filters, URLs and paths.
 */
export const SPECIAL_CHARS: readonly string[] = [
  "\u0000",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\u202e",
  "\u2028",
  "\u2029",
  "\u0085",
  "\u001b",
  "\u007f",
  "\r\n",
  "\t",
  "\\",
  '"',
  "'",
  "`",
  "\\u0000",
  "%00",
  "%",
  ",",
  "(",
  ")",
  ".",
  "|",
  "*",
  ":",
  ";",
  "&",
  "=",
  "?",
  "#",
  "/",
  "<",
  ">",
  "{",
  "}",
  "👍🏽",
  "\u{1F600}",
  "e\u0301",
  "\u{12000}",
  "ﷺ",
];

const char = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
);

/** Strings of any code point, with the hostile ones above often among them. */
export const hostileString = (maxLength = 40) => fc.string({ unit: char, maxLength });

/** Numbers at the edges of every representation. */
export const extremeNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 63),
    1e21,
    1e308,
    -1e308,
    5e-324,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Unix-seconds timestamps as Meta's digit strings and as everything else. */
export const extremeTimestamp = fc.oneof(
  fc.constantFrom(
    "0",
    "-1",
    "1.5",
    "9999999999",
    "253402300799",
    "253402300800",
    "8640000000000",
    "8640000000001",
    "999999999999",
    "1e10",
    " 1700000000",
    "1700000000 ",
    "0x10",
    "",
    "NaN",
    "Infinity",
    "00000000001",
  ),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  extremeNumber,
);

/** Any JSON value, hostile strings as keys and leaves, a few levels deep. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    extremeNumber,
    hostileString(),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(hostileString(12), tie("value"), { maxKeys: 5 }),
  ),
})).value;

/** JSON text no JSON.stringify would write: huge and odd numbers, duplicate keys, deep nesting. */
export const oddJsonText = fc.oneof(
  fc.constantFrom(
    "1e309",
    "-1e309",
    "123456789012345678901234567890",
    "-0",
    "0.1e-400",
    '{"a":1,"a":2}',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    "[]",
    "{}",
    '""',
    "null",
    "\ufeff{}",
    "{} {}",
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    '{"a":"\\uDFFF\\uD800"}',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((d) => "[".repeat(d) + "]".repeat(d)),
  fc.integer({ min: 1, max: 5_000 }).map((d) => '{"a":'.repeat(d) + "1" + "}".repeat(d)),
);

/** Arbitrary bytes: random, invalid UTF-8, or text with a BOM. */
export const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom(
    new Uint8Array([0xff, 0xfe, 0xfd]),
    new Uint8Array([0xc0, 0x80]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    new Uint8Array(0),
  ),
);

/** Content types a client may send instead of JSON, and JSON with odd parameters. */
export const contentType = fc.option(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "APPLICATION/JSON",
    "text/plain",
    "text/html",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/xml",
    "application/json, text/plain",
    "*/*",
    "",
    "garbage",
  ),
  { nil: undefined },
);

/** A random edit of a string: inserted, deleted or replaced characters. */
export const mutateString = (value: string) =>
  fc.array(
    fc.tuple(fc.nat(), fc.constantFrom("insert", "delete", "replace"), hostileString(3)),
    { minLength: 1, maxLength: 4 },
  ).map((edits) => {
    let s = value;
    for (const [at, kind, text] of edits) {
      const i = s.length ? at % (s.length + 1) : 0;
      if (kind === "insert") s = s.slice(0, i) + text + s.slice(i);
      else if (kind === "delete") s = s.slice(0, i) + s.slice(i + 1);
      else s = s.slice(0, i) + text + s.slice(i + text.length);
    }
    return s;
  });
