/**
 * What PostgreSQL cannot hold, and how a value is made fit for it. One refused value fails the
 * whole statement it rides in, so a write that carries outside data passes through here first.
 *
 * - Strings: `text` and `jsonb` refuse U+0000, and `jsonb` refuses a UTF-16 surrogate that is not
 *   half of a pair (JSON.stringify writes a lone one as an escape, which JSON allows). Both become
 *   U+FFFD, in keys as in values; the rest of the string is kept. storableFetch() does it to every
 *   PostgREST request body, so no column of any table needs its own rule. Ciphertext never holds
 *   either, so encrypted content keeps what was received.
 * - Nesting: PostgreSQL parses JSON recursively and refuses it past a stack limit (at 2 MB of
 *   stack, somewhere between 12,000 and 20,000 levels), and postgrest-js serialises a body with a
 *   replacer, which overflows V8's stack sooner (under 10,000 levels of objects). shallowJson()
 *   cuts anything deeper than MAX_JSON_DEPTH.
 * - Years past 9999: Date#toISOString() writes them as "+010000-…", which PostgreSQL reads as a
 *   time zone offset; storableTimestamp() drops the sign it cannot read.
 * - Keys: a b-tree entry holds at most 2,704 bytes, so text in a unique index must be bounded;
 *   MAX_KEY_LENGTH (UTF-16 units, at most 3 UTF-8 bytes each) leaves room for the other columns.
 */

/** JSON.stringify writes U+0000 as `\u0000` and a lone surrogate as `\udXXX`; nothing else here */
const SUSPECT = /\\u(?:0000|[dD][89a-fA-F])/;
/**
 * Escapes read left to right, so that an escaped backslash (`\\`) is never taken for the start of
 * an escape; a surrogate pair written as two escapes is kept.
 */
const ESCAPE =
  /\\(?:\\|u0000|u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|u[dD][c-fC-F][0-9a-fA-F]{2})/g;

/**
 * JSON text with every escaped U+0000 and lone surrogate replaced by U+FFFD. Text without either
 * (nearly all of it) is returned as it is after one scan. Raw ones need nothing: JSON.stringify
 * escapes both, and fetch sends a string body as UTF-8, which has no lone surrogates.
 */
export function storableJson(text: string): string {
  if (!SUSPECT.test(text)) return text;
  return text.replace(ESCAPE, (m) => (m.length === 2 || m.length === 12 ? m : "\\ufffd"));
}

/**
 * `fetch` for supabase-js: every JSON request body (inserts, updates, RPC arguments) made
 * storable by storableJson() on its way to PostgREST.
 */
export function storableFetch(base?: typeof fetch): typeof fetch {
  const send: typeof fetch = base ?? ((input, init) => fetch(input, init));
  return function storableFetch(input, init) {
    if (typeof init?.body !== "string") return send(input, init);
    const body = storableJson(init.body);
    return send(input, body === init.body ? init : { ...init, body });
  };
}

export {
  MAX_JSON_DEPTH,
  MAX_KEY_LENGTH,
  shallowJson,
  storableTimestamp,
  TOO_DEEP,
} from "../../core/storable.ts";
