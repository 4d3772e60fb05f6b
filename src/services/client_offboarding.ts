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

/** One batch for each client whose offboarding was interrupted (run by every sweep). */
export async function continueOffboardings(
  store: OffboardingStore,
  options: { clients?: number; batch?: number } = {},
): Promise<number> {
  const leaving = await store.leaving(options.clients ?? 10);
  for (const clientId of leaving) await store.step(clientId, options.batch ?? 5000);
  return leaving.length;
}
