import type { Doorbell, Job } from "../../ports/jobs.ts";

/** The part of a Cloudflare Queue binding we use. */
export interface QueueBinding {
  send(body: Job, options?: { delaySeconds?: number }): Promise<unknown>;
  sendBatch(
    messages: Array<{ body: Job; delaySeconds?: number }>,
  ): Promise<unknown>;
}

const MAX_BATCH = 100; // Cloudflare Queues accept at most 100 messages per sendBatch
const MAX_DELAY_S = 43_200; // and delays of at most 12 hours
// a message holds at most 128 KB: what a job carries of a row stays below, with room for the rest
const MAX_CARRIED = 100_000;

export function queueDoorbell(queue: QueueBinding): Doorbell {
  return {
    carries: MAX_CARRIED,
    // Cloudflare keeps a message from the moment send() resolves until the consumer acks it
    durable: true,
    async ring(jobs, options) {
      const delaySeconds = Math.min(MAX_DELAY_S, Math.ceil((options?.delayMs ?? 0) / 1000));
      // a webhook rings one job: send() carries it as it is, where workerd's sendBatch() wraps
      // every message in base64 inside a JSON document
      if (jobs.length === 1) {
        await queue.send(jobs[0], delaySeconds > 0 ? { delaySeconds } : undefined);
        return;
      }
      for (let i = 0; i < jobs.length; i += MAX_BATCH) {
        await queue.sendBatch(
          jobs.slice(i, i + MAX_BATCH).map((body) => ({
            body,
            ...(delaySeconds > 0 ? { delaySeconds } : {}),
          })),
        );
      }
    },
  };
}
