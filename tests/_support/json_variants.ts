/**
 * One-field variants of a JSON value, for tests that hold two validators to the same verdict:
 * every path inside a value, and copies of it with the value at one path removed or replaced by
 * something of another type.
 */

export type Path = ReadonlyArray<string | number>;

/** The value at a path is removed (an object key deleted, an array slot left as a hole). */
export const ABSENT: unique symbol = Symbol("absent");

/** Every JSON type and the non-JSON values a JavaScript caller could still pass. */
export const ODD_VALUES: readonly unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -0,
  -1,
  1.5,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  "",
  "x",
  "1700000000",
  [],
  [null],
  new Array(1), // a hole
  {},
  { id: "x" },
  Object.create(null),
  new Date(0),
];

const isContainer = (value: unknown): value is Record<string | number, unknown> =>
  typeof value === "object" && value !== null;

/** Every path to a value inside `value`, depth-first, the root itself left out. */
export function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (!isContainer(value)) return [];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((key) => {
    const path = [...prefix, key];
    return [path, ...pathsOf(value[key], path)];
  });
}

/** A copy of `value` with `to` at `path`; only the containers along the path are copied. */
export function withValueAt(value: unknown, path: Path, to: unknown): unknown {
  if (path.length === 0) return to;
  if (!isContainer(value)) return value;
  const [key, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<
    string | number,
    unknown
  >;
  const next = withValueAt(copy[key], rest, to);
  if (next === ABSENT) delete copy[key];
  else copy[key] = next;
  return copy;
}

/** Each path of `value` removed, then replaced by each of ODD_VALUES, with a label for failures. */
export function* variantsOf(value: unknown): Generator<[label: string, variant: unknown]> {
  for (const path of pathsOf(value)) {
    const at = path.join(".");
    yield [`${at} absent`, withValueAt(value, path, ABSENT)];
    for (const odd of ODD_VALUES) {
      yield [`${at} = ${Deno.inspect(odd)}`, withValueAt(value, path, odd)];
    }
  }
}
