/**
 * SQLSTATE classes in which PostgreSQL refuses what a statement carries: 21 cardinality, 22 data
 * exception (a value of the wrong form, out of range, untranslatable), 23 integrity constraint,
 * 54 program limit (an index entry or a nesting too large), P0 raised by our own functions when
 * their input breaks a rule.
 */
const CONTENT_CLASSES = new Set(["21", "22", "23", "54", "P0"]);

/**
 * Whether a failed PostgREST call was refused for what it carried, so that the same call would
 * fail again, and the same content without the offending part would not. Anything else (no
 * answer, a gateway's 5xx, the database unavailable, shutting down or out of resources, a
 * serialization failure or deadlock, a lock or statement timeout, a missing function or a
 * permission after a bad deploy) failed around the content: it is retried as it was.
 * `status` is the HTTP status, 0 when no answer came.
 */
export function refusedForContent(
  error: { code?: string | null },
  status: number,
): boolean {
  const code = error.code ?? "";
  if (code.startsWith("PGRST")) {
    // PGRST1xx: PostgREST could not read the request (PGRST102: a body that is not JSON it takes)
    return code[5] === "1";
  }
  if (code.length === 5) return CONTENT_CLASSES.has(code.slice(0, 2));
  // a gateway in front refusing the body's size
  return status === 413;
}
