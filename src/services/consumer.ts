import type { Job } from "../ports/jobs.ts";
import type { Logger } from "../ports/logger.ts";

export type JobHandler = (jobs: Job[]) => Promise<unknown>;

/** What runs each kind of job: all the jobs of that kind in a batch at once. */
export type JobHandlers = {
  [K in Job["kind"]]: (jobs: Array<Extract<Job, { kind: K }>>) => Promise<unknown>;
};

/**
 * The one place rung jobs turn into work: each kind's jobs of a batch go to its handler together
 * (the inbox processes them as one batch: one claim, one store per client, one completion; the
 * others run each job concurrently). Every handler is idempotent and keyed on a durable row, so a
 * job delivered twice, or never, changes nothing but timing. A kind nobody handles (a job rung by
 * a newer version of the app, still in the queue) is logged and dropped: the sweeper rings its
 * row again once a version that knows it runs.
 */
export function jobConsumer(handlers: JobHandlers, logger: Logger): JobHandler {
  return async function handleJobs(jobs) {
    const byKind = new Map<string, Job[]>();
    for (const job of jobs) {
      let list = byKind.get(job.kind);
      if (!list) byKind.set(job.kind, list = []);
      list.push(job);
    }
    await Promise.all([...byKind].map(([kind, list]) => {
      const handler = (handlers as Record<string, ((jobs: Job[]) => Promise<unknown>) | undefined>)[
        kind
      ];
      if (!Object.hasOwn(handlers, kind) || !handler) {
        logger.warn("job_kind_unknown", { kind, count: list.length });
        return null;
      }
      return handler(list);
    }));
  };
}

/** A handler that runs each job on its own, all at once. */
export const eachJob = <J>(run: (job: J) => Promise<unknown>) => (jobs: J[]) =>
  Promise.all(jobs.map(run));
