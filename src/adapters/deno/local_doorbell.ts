import type { Doorbell, Job } from "../../ports/jobs.ts";
import type { Logger } from "../../ports/logger.ts";

/**
 * In-process stand-in for a queue on Deno: jobs run on a bounded pool of concurrent workers.
 * Nothing here is durable, and it need not be: each job points at a recorded row, and the sweeper
 * rings again whatever a restart dropped.
 */
export function localDoorbell(options: {
  /** runs a batch of jobs (what a queue consumer gets); batches keep per-job round trips down */
  handle: (jobs: Job[]) => Promise<unknown>;
  concurrency?: number;
  batchSize?: number;
  logger: Logger;
}): Doorbell & { idle(): Promise<void>; close(): void } {
  const concurrency = options.concurrency ?? 16;
  const batchSize = options.batchSize ?? 25;
  const queue: Job[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let closed = false;
  let waiters: Array<() => void> = [];

  const settle = () => {
    if (running === 0 && queue.length === 0 && timers.size === 0) {
      for (const w of waiters) w();
      waiters = [];
    }
  };
  const pump = () => {
    while (!closed && running < concurrency && queue.length) {
      const jobs = queue.splice(0, batchSize);
      running++;
      options.handle(jobs)
        .catch((error) =>
          options.logger.error("job_failed", {
            kinds: [...new Set(jobs.map((j) => j.kind))].join(","),
            message: (error as Error).message,
          })
        )
        .finally(() => {
          running--;
          pump();
          settle();
        });
    }
  };

  return {
    ring(jobs, ringOptions) {
      if (closed) return Promise.resolve();
      const delay = ringOptions?.delayMs ?? 0;
      if (delay > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          queue.push(...jobs);
          pump();
          settle();
        }, delay);
        timers.add(timer);
      } else {
        queue.push(...jobs);
        pump();
      }
      return Promise.resolve();
    },
    /** resolves when nothing is queued, running or scheduled (for tests and graceful stops) */
    idle() {
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      });
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      queue.length = 0;
      settle();
    },
  };
}
