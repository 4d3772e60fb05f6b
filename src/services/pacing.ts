/**
 * Token bucket per sending phone number: Cloud API throughput is 80 messages/s per number by
 * default (up to 1,000 when upgraded). Per isolate; the Graph API's 130429 answer (retried with
 * backoff) is the backstop when several isolates share a number.
 */
export function phonePacer(now: () => number = () => performance.now()) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Milliseconds to wait before sending one more message from `phone` at `perSecond`. */
    reserve(phone: string, perSecond: number): number {
      const t = now();
      const b = buckets.get(phone) ?? { tokens: perSecond, at: t };
      b.tokens = Math.min(perSecond, b.tokens + ((t - b.at) / 1000) * perSecond);
      b.at = t;
      b.tokens -= 1;
      buckets.set(phone, b);
      return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens / perSecond) * 1000);
    },
  };
}
