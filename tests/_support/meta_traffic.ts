import { createHmac } from "node:crypto";
import { percentile } from "../../bench/stats.ts";

/** An outbound message a client already sent, whose statuses Meta then reports. */
export interface SentMessage {
  id: string;
  wamid: string;
  recipient: string;
}

const STEPS = ["sent", "delivered", "read"] as const;
// what Meta attaches to sent and delivered since per-message pricing (v24.0: no conversation)
const PRICING = { billable: true, pricing_model: "PMP", category: "utility", type: "regular" };
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
  const metadata = { display_phone_number: "15550001111", phone_number_id: options.phoneNumberId };
  return {
    isStatus,
    /** how many (message, status) pairs exist: past that, a status would repeat */
    capacity: () => (share === 0 ? Infinity : Math.floor((sent.length * 3 * 100) / share)),
    wamid: (i: number) => `wamid.REL${options.tag}_${i}`,
    body(i: number): string {
      // plain literals in Meta's field order, built for each try: cheaper than the fixture
      // builders, and nothing is kept per delivery
      let value: Record<string, unknown>;
      if (isStatus(i)) {
        const k = statusOrdinal(i);
        const m = sent[k % sent.length];
        const step = STEPS[Math.floor(k / sent.length) % STEPS.length];
        value = {
          messaging_product: "whatsapp",
          metadata,
          statuses: [{
            id: m.wamid,
            status: step,
            timestamp: String(Math.floor(EPOCH / 1000) + k),
            recipient_id: m.recipient,
            biz_opaque_callback_data: m.id,
            ...(step === "read" ? {} : { pricing: PRICING }),
          }],
        };
      } else {
        const from = `4477${String(i % 100_000_000).padStart(8, "0")}`;
        value = {
          messaging_product: "whatsapp",
          metadata,
          contacts: [{ profile: { name: "Customer" }, wa_id: from }],
          messages: [{
            from,
            id: `wamid.REL${options.tag}_${i}`,
            timestamp: String(Math.floor(EPOCH / 1000) + i),
            type: "text",
            text: { body: `Reliability ${options.tag} #${i}` },
          }],
        };
      }
      return JSON.stringify({
        object: "whatsapp_business_account",
        entry: [{ id: options.wabaId, changes: [{ value, field: "messages" }] }],
      });
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
  const client = loopbackPoster(options.url);
  const answers: Answers = { byStatus: {}, noAnswer: 0 };
  const acknowledged = new Set<number>();
  let retries = 0;

  async function attempt(i: number, signal?: AbortSignal): Promise<number | null> {
    const body = options.traffic.body(i);
    return await client.post(
      { "content-type": "application/json", "x-hub-signature-256": options.traffic.sign(body) },
      body,
      signal ?? AbortSignal.timeout(timeoutMs),
    );
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

const CRLF2 = [13, 10, 13, 10];

function indexOfHeadEnd(buf: Uint8Array, length: number): number {
  outer: for (let i = 0; i + 3 < length; i++) {
    for (let j = 0; j < 4; j++) if (buf[i + j] !== CRLF2[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * POSTs to one 127.0.0.1 server over kept-alive HTTP/1.1 connections, one request at a time on
 * each (a new connection when none is idle). A load generator on the two cores it shares with
 * the stack under test must be cheap, and fetch does much more per request than this needs
 * (pooling, redirects, decompression, a stream per body). Resolves
 * with the answer's status, or null for none (refused, reset, aborted, unreadable), after which
 * the connection is closed.
 */
export function loopbackPoster(url: string) {
  const { hostname, port, pathname, search } = new URL(url);
  if (hostname !== "127.0.0.1") throw new Error("The load generator only targets 127.0.0.1");
  const idle: Deno.TcpConn[] = [];
  const all = new Set<Deno.TcpConn>();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  const close = (conn: Deno.TcpConn) => {
    all.delete(conn);
    try {
      conn.close();
    } catch { /* closed already */ }
  };

  /** One exchange; "stale" when a reused connection ended before any byte of an answer. */
  async function exchange(
    conn: Deno.TcpConn,
    request: Uint8Array,
  ): Promise<{ status: number; keepAlive: boolean } | "stale"> {
    for (let written = 0; written < request.length;) {
      written += await conn.write(request.subarray(written));
    }
    let buf = new Uint8Array(4096);
    let length = 0;
    let headEnd = -1;
    let need = Infinity;
    let status = 0;
    let keepAlive = true;
    let chunked = false;
    for (;;) {
      if (length === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(length));
      if (n === null) {
        if (length === 0) return "stale";
        // an answer without a length ends with its connection
        if (headEnd >= 0 && need === Infinity && !chunked) return { status, keepAlive: false };
        throw new Error("The connection ended in the middle of an answer");
      }
      length += n;
      if (headEnd < 0) {
        headEnd = indexOfHeadEnd(buf, length);
        if (headEnd < 0) continue;
        const head = decoder.decode(buf.subarray(0, headEnd)).toLowerCase();
        status = Number(/^http\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
        if (!Number.isInteger(status)) throw new Error("Not an HTTP answer");
        const contentLength = /\r\ncontent-length:\s*(\d+)/.exec(head)?.[1];
        chunked = /\r\ntransfer-encoding:\s*chunked/.test(head);
        keepAlive = !/\r\nconnection:\s*close/.test(head);
        if (contentLength !== undefined) need = headEnd + 4 + Number(contentLength);
      }
      if (length >= need) return { status, keepAlive };
      if (chunked && length >= headEnd + 9) {
        // the last chunk: "0\r\n\r\n" (the app's answers carry no trailers)
        const tail = decoder.decode(buf.subarray(length - 5, length));
        if (tail === "0\r\n\r\n") return { status, keepAlive };
      }
    }
  }

  return {
    async post(
      headers: Record<string, string>,
      body: string,
      signal: AbortSignal,
    ): Promise<number | null> {
      const bytes = encoder.encode(body);
      let head = `POST ${pathname}${search} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n` +
        `content-length: ${bytes.length}\r\n`;
      for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
      const headBytes = encoder.encode(head + "\r\n");
      const request = new Uint8Array(headBytes.length + bytes.length);
      request.set(headBytes);
      request.set(bytes, headBytes.length);
      // a reused connection the server has just closed gets one more try on a new one
      for (let tries = 0; tries < 2; tries++) {
        if (signal.aborted) return null;
        const reused = idle.length > 0;
        let conn: Deno.TcpConn;
        try {
          conn = idle.pop() ?? await Deno.connect({ hostname, port: Number(port) });
        } catch {
          return null;
        }
        all.add(conn);
        const abort = () => close(conn);
        signal.addEventListener("abort", abort, { once: true });
        try {
          const answer = await exchange(conn, request);
          if (answer === "stale") {
            close(conn);
            if (reused) continue;
            return null;
          }
          if (answer.keepAlive && !signal.aborted) idle.push(conn);
          else close(conn);
          return answer.status;
        } catch {
          close(conn);
          return null;
        } finally {
          signal.removeEventListener("abort", abort);
        }
      }
      return null;
    },
    close() {
      for (const conn of [...all]) close(conn);
      idle.length = 0;
    },
  };
}

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
