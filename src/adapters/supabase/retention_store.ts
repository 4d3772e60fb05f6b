import type { SupabaseClient } from "@supabase/supabase-js";

/** What one data class removed in one pass (supabase/migrations/20261202001200_retention.sql). */
export interface RetentionBatch {
  dataClass: string;
  runId: number;
  rows: number;
  /** the class is drained (or its run stopped on `error`); otherwise the next pass goes on */
  finished: boolean;
  error: string | null;
}

/** A pass: the batches it ran, or why it ran none (another pass held the lock). */
export type RetentionPass = { batches: RetentionBatch[] } | { skipped: string };

export interface RetentionStore {
  /**
   * One retention pass: at most `maxRows` rows of each data class whose run is open or due
   * (every class with `force`), within `timeBudgetMs`. Every run is recorded in the database.
   */
  runPass(
    options?: { maxRows?: number; timeBudgetMs?: number; force?: boolean },
  ): Promise<RetentionPass>;
}

/** Retention through public.run_retention, with the service role. */
export function retentionStore(service: SupabaseClient): RetentionStore {
  return {
    async runPass(options = {}) {
      const { data, error } = await service.rpc("run_retention", {
        max_rows: options.maxRows ?? 5000,
        time_budget_ms: options.timeBudgetMs ?? 3000,
        force: options.force ?? false,
      });
      if (error) throw new Error(`Retention failed: ${error.message}`);
      if (!Array.isArray(data)) return { skipped: String((data as { skipped?: string }).skipped) };
      return {
        batches: (data as Array<Record<string, unknown>>).map((b) => ({
          dataClass: String(b.data_class),
          runId: Number(b.run_id),
          rows: Number(b.rows),
          finished: b.finished === true,
          error: typeof b.error === "string" ? b.error : null,
        })),
      };
    },
  };
}
