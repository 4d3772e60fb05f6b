import type { Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";
import type { WebhookRouter } from "./routing.ts";
import { processInboxItem } from "./whatsapp_inbox.ts";
import { sendQueuedMessage } from "./whatsapp_send.ts";

export type JobHandler = (job: Job) => Promise<unknown>;

/**
 * The one place a rung job turns into work. Every handler is idempotent and keyed on a durable
 * row, so a job delivered twice, or never, changes nothing but timing.
 */
export function jobConsumer(
  deps: ServiceDeps & { router: WebhookRouter },
  others: {
    webhookDelivery?: (job: { clientId: string; deliveryId: string }) => Promise<unknown>;
  } = {},
): JobHandler {
  return function handleJob(job) {
    switch (job.kind) {
      case "inbox":
        return processInboxItem(deps, job.id);
      case "send":
        return sendQueuedMessage(deps, job);
      case "webhook_delivery":
        return others.webhookDelivery?.(job) ?? Promise.resolve(null);
    }
  };
}
