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

/**
 * Retention of every class of personal data, per client, with legal holds (privacy.*). Cross-tenant:
 * the sweeper runs it with the service role; where pg_cron exists it drives the same runs.
 */
export interface RetentionStore {
  /**
   * One retention pass: at most `maxRows` rows of each data class whose run is open or due
   * (every class with `force`), within `timeBudgetMs`. Every run is recorded in the database.
   */
  runPass(
    options?: { maxRows?: number; timeBudgetMs?: number; force?: boolean },
  ): Promise<RetentionPass>;
}
