import type { Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";
import type { WebhookRouter } from "./routing.ts";
import { processInboxItems } from "./whatsapp_inbox.ts";
import { sendQueuedMessage } from "./whatsapp_send.ts";

export type JobHandler = (jobs: Job[]) => Promise<unknown>;

/**
 * The one place rung jobs turn into work. Inbox jobs that arrive together are processed as one
 * batch (one claim, one store per client, one completion); the rest run concurrently. Every
 * handler is idempotent and keyed on a durable row, so a job delivered twice, or never, changes
 * nothing but timing.
 */
export function jobConsumer(
  deps: ServiceDeps & { router: WebhookRouter },
  others: {
    webhookDelivery?: (job: Extract<Job, { kind: "webhook_delivery" }>) => Promise<unknown>;
  } = {},
): JobHandler {
  return async function handleJobs(jobs) {
    const inbox = jobs.flatMap((j) => (j.kind === "inbox" ? [j] : []));
    const claimed = new Map(inbox.flatMap((j) => (j.claimed ? [[j.id, j.claimed] as const] : [])));
    await Promise.all([
      inbox.length ? processInboxItems(deps, [...new Set(inbox.map((j) => j.id))], claimed) : null,
      ...jobs.map((job) => {
        if (job.kind === "send") return sendQueuedMessage(deps, job);
        if (job.kind === "webhook_delivery") return others.webhookDelivery?.(job) ?? null;
        return null;
      }),
    ]);
  };
}
