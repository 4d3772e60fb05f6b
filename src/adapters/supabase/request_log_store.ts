import type { Db } from "./database.ts";
import type { RequestLogEntry, RequestLogSink, RequestLogStore } from "../../ports/request_log.ts";

/** public.api_request_log in PostgREST, with the service role: one insert per call. */
export function requestLogStore(service: Db): RequestLogStore {
  return {
    async insert(rows) {
      const { error } = await service.from("api_request_log").insert(rows);
      if (error) {
        throw new Error(`Could not write ${rows.length} request log rows: ${error.message}`);
      }
    },
  };
}

interface Batch {
  rows: RequestLogEntry[];
  written: Promise<void>;
  start: () => void;
}

/**
 * Batches request log rows into one insert per `windowMs` (or per `maxBatch` rows), so logging
 * costs a fraction of a database call per request. Each `record()` resolves when its batch is
 * written. For a process that serves many requests at once (Deno): an isolate on Workers must not
 * await a write another request started, so there the entries go through the queue instead
 * (adapters/workers/queue_request_log.ts).
 */
export function batchedRequestLog(
  store: RequestLogStore,
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
    const written = started.then(() => {
      clearTimeout(timer);
      return store.insert(rows);
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
