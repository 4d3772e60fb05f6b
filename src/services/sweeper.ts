import type { Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";

export type DueWork = (limit: number) => Promise<Job[]>;

/**
 * Step 5: finds work that was recorded but not finished (a lost doorbell, a crashed consumer, a
 * retry whose time has come) and rings it again. Cross-tenant, so it uses the service role.
 * Each kind of work is handed out in turns per client (inbox deliveries per route key), so one
 * client's backlog never fills a sweep while another's item waits (public.due_inbox_items,
 * due_outbound_messages, due_webhook_deliveries).
 * `extra` lets other parts (client webhook deliveries) add their own due work. Each run also
 * applies retention, at most `purgeLimit` rows of each table at a time: the webhook inbox's
 * (purge_webhook_inbox: processed deliveries after Meta's 7-day retry window, set-aside ones after
 * 30 days) and client webhook deliveries' (purge_webhook_deliveries: finished ones after 30 days).
 */
export async function sweep(
  deps: Pick<ServiceDeps, "db" | "doorbell" | "logger">,
  options: { limit?: number; extra?: DueWork[]; purgeLimit?: number } = {},
): Promise<
  { inbox: number; sends: number; other: number; purged: { inbox: number; deliveries: number } }
> {
  const limit = options.limit ?? 500;
  const service = deps.db.service;
  const [inbox, sends] = await Promise.all([
    service.rpc("due_inbox_items", { max_rows: limit }),
    service.rpc("due_outbound_messages", { max_rows: limit }),
  ]);
  if (inbox.error) throw new Error(`Sweep of the inbox failed: ${inbox.error.message}`);
  if (sends.error) throw new Error(`Sweep of outbound messages failed: ${sends.error.message}`);
  const jobs: Job[] = [
    ...(inbox.data as Array<{ id: number; route_key: string | null }>).map((r) => ({
      kind: "inbox" as const,
      id: r.id,
      route: r.route_key,
    })),
    ...(sends.data as Array<{ id: string; client_id: string }>).map((r) => ({
      kind: "send" as const,
      clientId: r.client_id,
      messageId: r.id,
    })),
  ];
  let other = 0;
  for (const due of options.extra ?? []) {
    const found = await due(limit);
    other += found.length;
    jobs.push(...found);
  }
  if (jobs.length) {
    await deps.doorbell.ring(jobs);
    deps.logger.info("sweep", { inbox: inbox.data.length, sends: sends.data.length, other });
  }
  const maxRows = options.purgeLimit ?? 5000;
  const [inboxPurge, deliveriesPurge] = await Promise.all([
    service.rpc("purge_webhook_inbox", { max_rows: maxRows }),
    service.rpc("purge_webhook_deliveries", { max_rows: maxRows }),
  ]);
  if (inboxPurge.error) throw new Error(`Inbox retention failed: ${inboxPurge.error.message}`);
  if (deliveriesPurge.error) {
    throw new Error(`Webhook delivery retention failed: ${deliveriesPurge.error.message}`);
  }
  const purged = { inbox: inboxPurge.data as number, deliveries: deliveriesPurge.data as number };
  if (purged.inbox || purged.deliveries) deps.logger.info("retention_purged", purged);
  return { inbox: inbox.data.length, sends: sends.data.length, other, purged };
}
