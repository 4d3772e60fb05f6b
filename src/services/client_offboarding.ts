import type { Job } from "../ports/jobs.ts";
import type { OffboardingRecord, OffboardingStore } from "../ports/offboarding.ts";

/**
 * Offboards a client: its data key is shredded at once (nothing it stored can be decrypted from
 * then on, backups included), then its rows are removed `batch` at a time until none is left and
 * the client itself goes. Safe to call again after an interruption: it carries on where the last
 * run stopped (and the sweeper carries on by itself meanwhile).
 */
export async function offboardClient(
  store: OffboardingStore,
  clientId: string,
  options: {
    requestedBy: string;
    batch?: number;
    onProgress?: (removed: Record<string, number>) => void;
  },
): Promise<{ record: OffboardingRecord; total: Record<string, number> }> {
  const record = await store.start(clientId, options.requestedBy);
  let total: Record<string, number> = record.removed;
  for (;;) {
    const step = await store.step(clientId, options.batch ?? 5000);
    if (step.total) total = step.total;
    if (Object.keys(step.removed).length) options.onProgress?.(step.removed);
    if (step.done) break;
  }
  return { record, total };
}

/**
 * The sweeper's share of offboarding: one `client_offboarding` job for each client still leaving
 * (an operator's run that was cut short, or one still going), each removing one batch, so an
 * interrupted offboarding finishes by itself.
 */
export function offboardingJobs(store: OffboardingStore, options: { batch?: number } = {}) {
  return {
    async due(limit: number): Promise<Job[]> {
      return (await store.leaving(Math.min(limit, 10))).map((clientId) => ({
        kind: "client_offboarding" as const,
        clientId,
      }));
    },
    async run(job: Extract<Job, { kind: "client_offboarding" }>): Promise<void> {
      await store.step(job.clientId, options.batch ?? 5000);
    },
  };
}
