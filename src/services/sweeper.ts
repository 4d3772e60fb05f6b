import type { Job } from "../ports/jobs.ts";
import type { RetentionPass } from "../ports/retention.ts";
import type { ServiceDeps } from "./deps.ts";

export type DueWork = (limit: number) => Promise<Job[]>;

/**
 * Step 5: finds work that was recorded but not finished (a lost doorbell, a crashed consumer, a
 * retry whose time has come) and rings it again. Cross-tenant, so it uses the service role.
 * Each kind of work is handed out in turns per client (inbox deliveries per route key), so one
 * client's backlog never fills a sweep while another's item waits (public.due_inbox_items,
 * due_outbound_messages, due_webhook_deliveries).
 * `extra` lets other parts (client webhook deliveries, plugin deliveries and schedules, template
 * syncs, privacy request parts, offboardings) add their own due work.
 * Each sweep also runs one retention pass: at most `purgeLimit` rows of each data class whose run
 * is open or due (public.run_retention; supabase/migrations/20261202001200_retention.sql). Where
 * pg_cron exists it drives the same runs, and the database keeps the two from overlapping; a
 * sweep is then a cheap no-op for retention. `retention` can force a run of every class now
 * within a longer time budget (tests).
 */
export async function sweep(
  deps: Pick<
    ServiceDeps,
    "inbox" | "messages" | "retention" | "doorbell" | "logger"
  >,
  options: {
    limit?: number;
    extra?: DueWork[];
    purgeLimit?: number;
    retention?: { force?: boolean; timeBudgetMs?: number };
  } = {},
): Promise<
  {
    inbox: number;
    sends: number;
    other: number;
    retention: RetentionPass;
  }
> {
  const limit = options.limit ?? 500;
  const [inbox, sends] = await Promise.all([
    deps.inbox.due(limit),
    deps.messages.due(limit),
  ]);
  const jobs: Job[] = [
    ...inbox.map((r) => ({ kind: "inbox" as const, id: r.id, route: r.route_key })),
    ...sends.map((r) => ({ kind: "send" as const, clientId: r.client_id, messageId: r.id })),
  ];
  let other = 0;
  for (const due of options.extra ?? []) {
    const found = await due(limit);
    other += found.length;
    jobs.push(...found);
  }
  if (jobs.length) {
    await deps.doorbell.ring(jobs);
    deps.logger.info("sweep", { inbox: inbox.length, sends: sends.length, other });
  }
  const maxRows = options.purgeLimit ?? 5000;
  const retention = await deps.retention.runPass({
    maxRows,
    force: options.retention?.force,
    timeBudgetMs: options.retention?.timeBudgetMs,
  });
  if ("batches" in retention) {
    for (const b of retention.batches) {
      if (b.error) {
        deps.logger.warn("retention_failed", { data_class: b.dataClass, error: b.error });
      } else if (b.rows) {
        deps.logger.info("retention_purged", { data_class: b.dataClass, rows: b.rows });
      }
    }
  }
  return { inbox: inbox.length, sends: sends.length, other, retention };
}
