import { benchChannel } from "../../bench/channel_stack.ts";
import { loadAverage } from "../../bench/stats.ts";
import { scale } from "./fault_channel.ts";
import {
  type Answers,
  clientErrors,
  latencyFigures,
  metaSender,
  type MetaTraffic,
  metaTraffic,
  openLoad,
  type OpenLoadResult,
  type SentMessage,
  serverErrors,
} from "./meta_traffic.ts";

const envNumber = (name: string, fallback: number) => {
  const raw = Deno.env.get(name);
  const value = raw === undefined || raw === "" ? NaN : Number(raw);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

/**
 * The load the suite offers (`deno task reliability` sets these; `deno task test` runs the quick
 * profile): the ingest goal is 2,000 webhooks/s (docs/benchmarks.md §5), steady for a minute,
 * then ten times that for a minute.
 */
export const loadKnobs = () => ({
  rate: envNumber("RELIABILITY_LOAD_RATE", scale(100, 2000)),
  seconds: envNumber("RELIABILITY_LOAD_SECONDS", scale(10, 60)),
  burstSeconds: envNumber("RELIABILITY_BURST_SECONDS", scale(5, 60)),
  /** how long Meta's retries of what a run left unacknowledged may take before it fails */
  retrySeconds: envNumber("RELIABILITY_RETRY_SECONDS", scale(120, 900)),
});

/** Meta's guidance for webhook endpoints: median ≤ 250 ms, fewer than 1 % slower than 1 s. */
export const META_GUIDANCE = { medianMs: 250, shareOver1s: 0.01 };

/** Meta publishes no timeout; third parties report 3 to 20 s (reference/whatsapp.md §1.3). */
const META_TIMEOUT_MS = 10_000;
// one event per delivery, three in four statuses: Meta's advice to plan for 3× outbound as
// statuses plus 1× inbound
const STATUS_SHARE = 75;

/**
 * One load run on a throwaway stack with the app as its own process (bench/channel_stack.ts):
 * `phases` are offered one after another as an open arrival-rate model, each delivery once; then
 * Meta retries every delivery not acknowledged (at the first phase's rate) until all are; then the
 * consumer drains. Returns per-phase acknowledgement figures, queue lag, time to drain, and what
 * was lost or duplicated.
 */
export async function ingestLoad(phases: Array<{ name: string; rate: number; seconds: number }>) {
  const total = phases.reduce((n, p) => n + Math.round(p.rate * p.seconds), 0);
  const ch = await benchChannel({ runtime: "deno" });
  try {
    const sent: SentMessage[] = await ch.seedHistory(
      Math.ceil((total * STATUS_SHARE) / 100 / 3) + 1,
    );
    const traffic: MetaTraffic = metaTraffic({
      wabaId: ch.wabaId,
      phoneNumberId: ch.phoneNumberId,
      appSecret: ch.stack.secrets.meta_app_secret,
      tag: crypto.randomUUID().slice(0, 8),
      statusShare: STATUS_SHARE,
      sent,
    });
    const meta = metaSender({
      url: `${ch.appUrl}/webhooks/whatsapp`,
      traffic,
      timeoutMs: META_TIMEOUT_MS,
      giveUpAfterMs: 3_600_000,
    });
    const loadBefore = loadAverage();
    const results: Array<{ name: string; rate: number; result: OpenLoadResult; answers: Answers }> =
      [];
    let offset = 0;
    const started = performance.now();
    try {
      for (const phase of phases) {
        const count = Math.round(phase.rate * phase.seconds);
        const first = offset;
        const before = structuredClone(meta.answers);
        const result = await openLoad({
          rate: phase.rate,
          count,
          timeoutMs: META_TIMEOUT_MS,
          maxInFlight: 2048,
          send: (k, signal) => meta.once(first + k, signal),
        });
        results.push({
          name: phase.name,
          rate: phase.rate,
          result,
          answers: diff(meta.answers, before),
        });
        offset += count;
      }
      const loadEnded = performance.now();
      // Meta's retries of what was not acknowledged (errors, timeouts, never sent in time),
      // offered again at the first phase's rate, until all are or the retry time is up
      let retried = 0;
      const retryUntil = performance.now() + loadKnobs().retrySeconds * 1000;
      while (meta.acknowledged.size < total && performance.now() < retryUntil) {
        const missing: number[] = [];
        for (let i = 0; i < total; i++) if (!meta.acknowledged.has(i)) missing.push(i);
        const count = Math.min(
          missing.length,
          Math.max(1, Math.floor(((retryUntil - performance.now()) / 1000) * phases[0].rate)),
        );
        retried += count;
        await openLoad({
          rate: phases[0].rate,
          count,
          timeoutMs: META_TIMEOUT_MS,
          maxInFlight: 2048,
          send: (k, signal) => meta.once(missing[k], signal),
        });
      }
      const acknowledgedAt = performance.now();
      const { pending, at: drainedAt } = await ch.inboxDrained({
        pollMs: 200,
        timeoutMs: 1_800_000,
      });
      const [lag] = await ch.sql<{ p50: number; p99: number; max: number }>(
        `select percentile_cont(0.5) within group (order by l) as p50,
           percentile_cont(0.99) within group (order by l) as p99, max(l) as max
           from (select extract(epoch from processed_at - received_at) * 1000 as l
             from webhook_inbox where processed_at is not null) x`,
      );
      let inbound = 0;
      for (let i = 0; i < total; i++) if (!traffic.isStatus(i)) inbound++;
      const [stored] = await ch.sql<{ rows: string; distinct: string }>(
        `select count(*) as rows, count(distinct wamid) as distinct from messages
          where direction = 'inbound'`,
      );
      const [events] = await ch.sql<{ n: string }>(
        "select count(*) as n from message_status_events where message_id = any($1)",
        [sent.map((m) => m.id)],
      );
      const statuses = total - inbound;
      const lost = Math.max(0, inbound - Number(stored.distinct)) +
        Math.max(0, statuses - Number(events.n));
      const duplicated = Number(stored.rows) - Number(stored.distinct) +
        Math.max(0, Number(events.n) - statuses);
      return {
        total,
        phases: results.map(({ name, rate, result, answers }) => {
          const over = (result.slow + result.expired) / result.offered;
          const median = latencyFigures(result.latenciesMs, "")["p50_ms"];
          return {
            name,
            figures: {
              rate_per_s: rate,
              offered: result.offered,
              ...latencyFigures(result.latenciesMs, "ack_"),
              share_over_1s_pct: Math.round(over * 10000) / 100,
              not_sent_in_time: result.expired,
              max_start_delay_ms: Math.round(result.maxStartDelayMs),
              answers_5xx: serverErrors(answers),
              answers_4xx: clientErrors(answers),
              no_answer: answers.noAnswer,
              meets_meta_guidance: median <= META_GUIDANCE.medianMs &&
                over < META_GUIDANCE.shareOver1s,
            },
            median,
            shareOver1s: over,
            answers,
          };
        }),
        retried,
        unacknowledged: total - meta.acknowledged.size,
        pending,
        figures: {
          deliveries: total,
          meta_retries: retried,
          all_acknowledged_after_s: round1((acknowledgedAt - started) / 1000),
          drained_after_load_s: round1((drainedAt - loadEnded) / 1000),
          queue_lag_p50_ms: Math.round(lag.p50 ?? 0),
          queue_lag_p99_ms: Math.round(lag.p99 ?? 0),
          queue_lag_max_ms: Math.round(lag.max ?? 0),
          load_average_before: loadBefore,
          load_average_after: loadAverage(),
          lost,
          duplicated,
        },
        lost,
        duplicated,
      };
    } finally {
      meta.close();
    }
  } finally {
    await ch.close();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function diff(now: Answers, before: Answers): Answers {
  const byStatus: Record<string, number> = {};
  for (const [s, n] of Object.entries(now.byStatus)) {
    const d = n - (before.byStatus[s] ?? 0);
    if (d) byStatus[s] = d;
  }
  return { byStatus, noAnswer: now.noAnswer - before.noAnswer };
}
