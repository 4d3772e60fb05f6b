import type { SupabaseClient } from "@supabase/supabase-js";
import type { RequestLogEntry, RequestLogSink } from "../../ports/request_log.ts";

interface Batch {
  rows: RequestLogEntry[];
  written: Promise<void>;
  start: () => void;
}

/**
 * Batches request log rows into one insert per `windowMs` (or per `maxBatch` rows), so logging
 * costs a fraction of a database call per request. Each `record()` resolves when its batch is
 * written, which lets Workers keep the isolate alive for it with waitUntil.
 */
export function supabaseRequestLogSink(
  service: SupabaseClient,
  options: { windowMs?: number; maxBatch?: number } = {},
): RequestLogSink & { flush(): Promise<void> } {
  const windowMs = options.windowMs ?? 50;
  const maxBatch = options.maxBatch ?? 200;
  let open: Batch | null = null;

  const close = (batch: Batch) => {
    if (open === batch) open = null;
    batch.start();
    return batch.written;
  };

  const newBatch = (): Batch => {
    const rows: RequestLogEntry[] = [];
    let start = () => {};
    const started = new Promise<void>((resolve) => (start = resolve));
    const timer = setTimeout(() => close(batch), windowMs);
    const written = started.then(async () => {
      clearTimeout(timer);
      const { error } = await service.from("api_request_log").insert(rows);
      if (error) {
        throw new Error(`Could not write ${rows.length} request log rows: ${error.message}`);
      }
    });
    const batch: Batch = { rows, written, start };
    return batch;
  };

  return {
    record(entry) {
      const batch = open ??= newBatch();
      batch.rows.push(entry);
      return batch.rows.length >= maxBatch ? close(batch) : batch.written;
    },
    flush: () => (open ? close(open) : Promise.resolve()),
  };
}
