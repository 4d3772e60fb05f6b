/**
 * What to do about a failed Graph API call. Logic keys on `code` (Meta advises against titles,
 * which are going away). Classes:
 * - retryable: rate limits, throughput, transient server trouble, timeouts → backoff and retry
 * - terminal: the request or recipient is wrong, or policy forbids it → fail with the reason
 * - token: the client's access token is invalid or expired → fail and alert the client
 */
export type ErrorClass = "retryable" | "terminal" | "token";

export interface GraphError {
  /** Graph error code, or 0 when none came back (network failure, timeout, non-JSON body) */
  code: number;
  httpStatus: number | null;
  title: string;
  details: string | null;
  kind: "graph" | "timeout" | "network";
}

const RETRYABLE = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057, 133004]);
const TOKEN = new Set([0, 190]);

export function classifyGraphError(error: GraphError): ErrorClass {
  if (error.kind !== "graph") return "retryable";
  if (TOKEN.has(error.code) || error.httpStatus === 401) return "token";
  if (RETRYABLE.has(error.code)) return "retryable";
  if (error.httpStatus !== null && error.httpStatus >= 500) return "retryable";
  if (error.httpStatus === 429) return "retryable";
  return "terminal";
}

/**
 * Exponential backoff with full jitter, capped: attempt 1 → up to 1 s, 2 → 2 s, … max 5 min.
 * Rate-limit codes wait at least `minMs` (the pair rate needs ~6 s before the same recipient).
 */
export function backoffMs(
  attempt: number,
  options: { baseMs?: number; maxMs?: number; minMs?: number; random?: () => number } = {},
) {
  const base = options.baseMs ?? 1000;
  const max = options.maxMs ?? 300_000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + (options.random ?? Math.random)() * (ceiling / 2));
  return Math.max(options.minMs ?? 0, jittered);
}

export function minimumWaitFor(code: number): number {
  if (code === 131056) return 6000;
  if (code === 130429 || code === 4 || code === 80007) return 1000;
  return 0;
}
