import { createHmac } from "node:crypto";
import { percentile } from "../../bench/stats.ts";
import { envelope, inbound, status } from "./meta_fixtures.ts";

/** An outbound message a client already sent, whose statuses Meta then reports. */
export interface SentMessage {
  id: string;
  wamid: string;
  recipient: string;
}

const STEPS = ["sent", "delivered", "read"] as const;
// a fixed clock for the events' own timestamps: delivery i must have the same bytes every time
const EPOCH = Date.UTC(2026, 11, 1, 9, 0, 0);

/**
 * Deliveries as Meta makes them for one business number, one event each (Meta's usual shape):
 * `statusShare` % carry a status of one of `sent` (sent, then delivered, then read; each
 * (message, status) once), the rest an inbound text from a new wamid. Delivery i is a pure
 * function of i, so a retry repeats its exact bytes, as Meta's retries do, and what should be
 * stored is known from the indices acknowledged.
 */
export function metaTraffic(options: {
  wabaId: string;
  phoneNumberId: string;
  appSecret: string;
  /** distinguishes this run's wamids from any other's */
  tag: string;
  statusShare?: number;
  sent?: SentMessage[];
}) {
  const share = Math.round(Math.min(100, Math.max(0, options.statusShare ?? 0)));
  const sent = options.sent ?? [];
  if (share > 0 && !sent.length) throw new Error("Status deliveries need sent messages");
  const isStatus = (i: number) => i % 100 < share;
  /** the status deliveries are numbered 0, 1, 2 … in index order */
  const statusOrdinal = (i: number) => Math.floor(i / 100) * share + (i % 100);
  return {
    isStatus,
    /** how many (message, status) pairs exist: past that, a status would repeat */
    capacity: () => (share === 0 ? Infinity : Math.floor((sent.length * 3 * 100) / share)),
    wamid: (i: number) => `wamid.REL${options.tag}_${i}`,
    body(i: number): string {
      if (isStatus(i)) {
        const k = statusOrdinal(i);
        const m = sent[k % sent.length];
        const step = STEPS[Math.floor(k / sent.length) % STEPS.length];
        return JSON.stringify(envelope(
          options.wabaId,
          options.phoneNumberId,
          status(m.wamid, step, {
            at: new Date(EPOCH + k * 1000),
            recipient: m.recipient,
            callback: m.id,
          }),
        ));
      }
      const from = `4477${String(i % 100_000_000).padStart(8, "0")}`;
      return JSON.stringify(envelope(
        options.wabaId,
        options.phoneNumberId,
        inbound(from, "text", { text: { body: `Reliability ${options.tag} #${i}` } }, {
          id: `wamid.REL${options.tag}_${i}`,
          at: new Date(EPOCH + i * 1000),
          name: "Customer",
        }),
      ));
    },
    /** Meta's signature, with node:crypto (Web Crypto's per-call cost would load the generator) */
    sign: (body: string) =>
      `sha256=${createHmac("sha256", options.appSecret).update(body).digest("hex")}`,
  };
}

export type MetaTraffic = ReturnType<typeof metaTraffic>;

/** What a webhook sender saw of the app's answers. */
export interface Answers {
  /** HTTP status → how many answers had it */
  byStatus: Record<string, number>;
  /** requests with no answer: refused connections, resets, timeouts */
  noAnswer: number;
}

function countAnswer(answers: Answers, status: number | null) {
  if (status === null) answers.noAnswer++;
  else answers.byStatus[status] = (answers.byStatus[status] ?? 0) + 1;
}

/** All answers in 500–599. */
export const serverErrors = (a: Answers) =>
  Object.entries(a.byStatus).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);
/** All answers in 400–499: for signed, well-formed deliveries there must be none. */
export const clientErrors = (a: Answers) =>
  Object.entries(a.byStatus).filter(([s]) => Number(s) >= 400 && Number(s) < 500)
    .reduce((n, [, c]) => n + c, 0);

/**
 * Posts deliveries as Meta does: the exact signed bytes, and anything but a 200 (an error, no
 * answer, no answer in time) is a failed delivery, tried again with backoff until it is
 * acknowledged or `giveUpAfterMs` has passed since its first try.
 */
export function metaSender(options: {
  url: string;
  traffic: MetaTraffic;
  timeoutMs?: number;
  giveUpAfterMs?: number;
}) {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const giveUpAfterMs = options.giveUpAfterMs ?? 120_000;
  const client = Deno.createHttpClient({});
  const answers: Answers = { byStatus: {}, noAnswer: 0 };
  const acknowledged = new Set<number>();
  let retries = 0;

  async function attempt(i: number, signal?: AbortSignal): Promise<number | null> {
    const body = options.traffic.body(i);
    try {
      const res = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": options.traffic.sign(body),
        },
        body,
        client,
        signal: signal ?? AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.status;
    } catch {
      return null;
    }
  }

  return {
    answers,
    acknowledged,
    retries: () => retries,
    /** one try: the status, or null for no answer */
    async once(i: number, signal?: AbortSignal): Promise<number | null> {
      const status = await attempt(i, signal);
      countAnswer(answers, status);
      if (status === 200) acknowledged.add(i);
      return status;
    },
    /** tries until acknowledged; false when it gave up */
    async deliver(i: number): Promise<boolean> {
      const started = performance.now();
      for (let n = 0;; n++) {
        const status = await attempt(i);
        countAnswer(answers, status);
        if (status === 200) {
          acknowledged.add(i);
          return true;
        }
        if (performance.now() - started > giveUpAfterMs) return false;
        retries++;
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** n)));
      }
    },
    close: () => client.close(),
  };
}

export type MetaSender = ReturnType<typeof metaSender>;

export interface OpenLoadResult {
  offered: number;
  /** requests that got an answer or failed, with when each was due */
  latenciesMs: number[];
  /** requests not acknowledged (200) within 1 s of when they were due */
  slow: number;
  /** due requests not sent before `timeoutMs` had passed (the generator could not keep up) */
  expired: number;
  /** the longest any request started after it was due */
  maxStartDelayMs: number;
  /** seconds from the first due time to the last answer */
  elapsedS: number;
}

/**
 * An open arrival-rate model: request k is due at start + k / rate, whether or not earlier ones
 * were answered (Meta's servers do not wait for ours). Latency counts from when a request was
 * due, not when it went out, so a generator or server that falls behind cannot hide it
 * (coordinated omission). At most `maxInFlight` requests are open at once; a request due longer
 * than `timeoutMs` ago when a slot frees is not sent (Meta would have given up) and is counted
 * `expired`. `send(k, signal)` makes request k and resolves with its status (null: no answer).
 */
export async function openLoad(options: {
  rate: number;
  count: number;
  timeoutMs: number;
  maxInFlight: number;
  send: (k: number, signal: AbortSignal) => Promise<number | null>;
}): Promise<OpenLoadResult> {
  const { rate, count, timeoutMs } = options;
  const latencies: number[] = [];
  let slow = 0;
  let expired = 0;
  let maxStartDelayMs = 0;
  let inFlight = 0;
  let freed: (() => void) | null = null;
  const open = new Set<Promise<void>>();
  const started = performance.now();
  const dueAt = (k: number) => started + (k * 1000) / rate;
  let next = 0;
  while (next < count) {
    const now = performance.now();
    while (next < count && dueAt(next) <= now && inFlight < options.maxInFlight) {
      const k = next++;
      const late = now - dueAt(k);
      if (late > timeoutMs) {
        expired++;
        continue;
      }
      maxStartDelayMs = Math.max(maxStartDelayMs, late);
      inFlight++;
      const p = options.send(k, AbortSignal.timeout(timeoutMs - late))
        .catch(() => null)
        .then((status) => {
          const latency = performance.now() - dueAt(k);
          latencies.push(latency);
          if (status !== 200 || latency > 1000) slow++;
        })
        .finally(() => {
          inFlight--;
          open.delete(p);
          freed?.();
        });
      open.add(p);
    }
    if (next >= count) break;
    if (inFlight >= options.maxInFlight && dueAt(next) <= performance.now()) {
      await new Promise<void>((resolve) => freed = resolve);
      freed = null;
    } else {
      await new Promise((r) => setTimeout(r, Math.max(0, dueAt(next) - performance.now())));
    }
  }
  await Promise.all([...open]);
  return {
    offered: count,
    latenciesMs: latencies,
    slow,
    expired,
    maxStartDelayMs,
    elapsedS: (performance.now() - started) / 1000,
  };
}

/** p50/p99/max of latencies, rounded to 0.1 ms, for a report. */
export function latencyFigures(latencies: number[], prefix: string) {
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    [`${prefix}p50_ms`]: r(percentile(latencies, 50)),
    [`${prefix}p99_ms`]: r(percentile(latencies, 99)),
    [`${prefix}max_ms`]: r(latencies.reduce((a, b) => Math.max(a, b), 0)),
  };
}
