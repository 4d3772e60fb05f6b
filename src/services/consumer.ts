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
 *
 * A job that throws does not cut the others short: every job of the batch runs to its end, and
 * then one JobsFailed names the failures, so Workers' queue retries the batch and Deno's doorbell
 * logs it. (Promise.all would settle at the first failure while the rest still ran: a Workers
 * invocation may end there, and the doorbell would start its next batch beside them.)
 */
export function jobConsumer(handlers: JobHandlers, logger: Logger): JobHandler {
  return async function handleJobs(jobs) {
    const byKind = new Map<string, Job[]>();
    for (const job of jobs) {
      let list = byKind.get(job.kind);
      if (!list) byKind.set(job.kind, list = []);
      list.push(job);
    }
    const kinds = [...byKind];
    const settled = await Promise.allSettled(kinds.map(async ([kind, list]) => {
      const handler = (handlers as Record<string, ((jobs: Job[]) => Promise<unknown>) | undefined>)[
        kind
      ];
      if (!Object.hasOwn(handlers, kind) || !handler) {
        logger.warn("job_kind_unknown", { kind, count: list.length });
        return null;
      }
      return await handler(list);
    }));
    const failures: JobFailure[] = [];
    settled.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      const [kind, list] = kinds[i];
      // a kind's handler that failed as a whole (the inbox's batch) is named by its kind
      if (result.reason instanceof JobsFailed) failures.push(...result.reason.failures);
      else failures.push({ job: `${kind} ×${list.length}`, error: result.reason });
    });
    if (failures.length) throw new JobsFailed(failures, jobs.length);
  };
}

/** A job (or a kind's share of a batch) that failed, and why. */
export interface JobFailure {
  job: string;
  error: unknown;
}

/** how many failures JobsFailed's message names; the rest are counted */
const NAMED_FAILURES = 5;

/** Some jobs of a batch failed; every job of it ran to its end first. */
export class JobsFailed extends Error {
  constructor(readonly failures: JobFailure[], total: number) {
    const named = failures.slice(0, NAMED_FAILURES).map((f) =>
      `${f.job}: ${String(f.error instanceof Error ? f.error.message : f.error).slice(0, 300)}`
    );
    const more = failures.length - named.length;
    super(
      `${failures.length} failed in a batch of ${total} jobs: ${named.join("; ")}` +
        (more > 0 ? `; and ${more} more` : ""),
    );
    this.name = "JobsFailed";
  }
}

/** What names a job in a failure: its kind and the row it points at. */
function jobName(job: object): string {
  const j = job as {
    kind?: unknown;
    deliveryId?: unknown;
    messageId?: unknown;
    partId?: unknown;
    id?: unknown;
    clientId?: unknown;
    dedupeKey?: unknown;
  };
  return `${j.kind} ${
    j.deliveryId ?? j.messageId ?? j.partId ?? j.id ?? j.clientId ?? j.dedupeKey
  }`;
}

/**
 * A handler that runs each job on its own, all at once, every one to its end; then throws one
 * JobsFailed naming those that failed.
 */
export const eachJob = <J extends object>(run: (job: J) => Promise<unknown>) =>
  async function eachOf(jobs: J[]): Promise<void> {
    const settled = await Promise.allSettled(jobs.map(async (job) => await run(job)));
    const failures = settled.flatMap((result, i) =>
      result.status === "rejected" ? [{ job: jobName(jobs[i]), error: result.reason }] : []
    );
    if (failures.length) throw new JobsFailed(failures, jobs.length);
  };
