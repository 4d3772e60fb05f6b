import type { Doorbell, Job } from "../../ports/jobs.ts";
import type { Logger } from "../../ports/logger.ts";

/**
 * Whose turn a job takes: its client's, or for a Meta delivery (which names no client until it
 * is walked) its route key's, as the sweeper's due-work functions share work out.
 */
function turnOf(job: Job): string {
  return job.kind === "inbox" || job.kind === "delivery"
    ? `route:${job.route ?? ""}`
    : `client:${job.clientId}`;
}

/** A first-in first-out list that takes from its head without moving what follows. */
class Line {
  #items: Job[] = [];
  #head = 0;
  get length() {
    return this.#items.length - this.#head;
  }
  push(job: Job) {
    this.#items.push(job);
  }
  shift(): Job {
    const job = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return job;
  }
}

/**
 * In-process stand-in for a queue on Deno: jobs run on a bounded pool of concurrent workers.
 * Nothing here is durable, and it need not be: each job points at a recorded row, and the sweeper
 * rings again whatever a restart dropped.
 *
 * Jobs wait in one line per client (per route key for Meta deliveries) and each batch takes them
 * in turns, one from each line, so a client that rang 100,000 jobs does not hold up another's
 * single job: that one goes in the next batch.
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
  // in turn order: a line that gave a job goes to the back
  const lines = new Map<string, Line>();
  let queued = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let running = 0;
  let closed = false;
  let waiters: Array<() => void> = [];

  const enqueue = (jobs: Job[]) => {
    for (const job of jobs) {
      const turn = turnOf(job);
      let line = lines.get(turn);
      if (!line) lines.set(turn, line = new Line());
      line.push(job);
      queued++;
    }
  };
  const take = (): Job[] => {
    const batch: Job[] = [];
    while (batch.length < batchSize && queued > 0) {
      const [turn, line] = lines.entries().next().value!;
      batch.push(line.shift());
      queued--;
      lines.delete(turn);
      if (line.length) lines.set(turn, line);
    }
    return batch;
  };
  const settle = () => {
    if (running === 0 && queued === 0 && timers.size === 0) {
      for (const w of waiters) w();
      waiters = [];
    }
  };
  const pump = () => {
    while (!closed && running < concurrency && queued > 0) {
      const jobs = take();
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
          enqueue(jobs);
          pump();
          settle();
        }, delay);
        timers.add(timer);
      } else {
        enqueue(jobs);
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
      lines.clear();
      queued = 0;
      settle();
    },
  };
}
