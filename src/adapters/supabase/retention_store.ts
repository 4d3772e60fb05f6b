import type { Db } from "./database.ts";
import type { RetentionStore } from "../../ports/retention.ts";

/** Retention through public.run_retention, with the service role. */
export function retentionStore(service: Db): RetentionStore {
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
