/**
 * Values made fit for PostgreSQL before they are written (the rest of the rules, on every
 * PostgREST body, are in adapters/supabase/storable.ts, which explains them all):
 * - Nesting: PostgreSQL parses JSON recursively and refuses it past a stack limit, and
 *   postgrest-js serialises a body with a replacer, which overflows V8's stack sooner; shallowJson()
 *   cuts anything deeper than MAX_JSON_DEPTH.
 * - Years past 9999: storableTimestamp() drops the sign PostgreSQL cannot read.
 * - Keys: text in a unique index must be bounded (MAX_KEY_LENGTH).
 * Pure functions, so services decide with them what a store can hold.
 */

/** Deeper than Meta's payloads ever go (about 10 levels), far below where PostgreSQL gives up */
export const MAX_JSON_DEPTH = 64;
/** what stands in for a value cut by shallowJson() */
export const TOO_DEEP = `[nested deeper than ${MAX_JSON_DEPTH} levels]`;

/**
 * `value` with whatever lies deeper than MAX_JSON_DEPTH replaced by TOO_DEEP, and undefined
 * (JSON has no such value; a jsonb column would get SQL null) as JSON null. Copies only what it
 * changes, so a value within the bound comes back as it is.
 */
export function shallowJson(value: unknown, depth = 0): unknown {
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_JSON_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const kept = typeof item === "object" && item !== null ? shallowJson(item, depth + 1) : item;
      if (kept !== item) (copy ??= value.slice())[i] = kept;
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    const kept = shallowJson(item, depth + 1);
    if (kept !== item) (copy ??= { ...value })[key] = kept;
  }
  return copy ?? value;
}

/** An ISO 8601 time from Date#toISOString() as PostgreSQL reads it (years past 9999 unsigned) */
export const storableTimestamp = (iso: string): string =>
  iso.charCodeAt(0) === 43 /* "+" */ ? iso.slice(1) : iso;

/** the longest text kept in a unique index beside a few short columns */
export const MAX_KEY_LENGTH = 512;
