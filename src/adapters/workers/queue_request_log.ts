import type { RequestLogEntry, RequestLogSink } from "../../ports/request_log.ts";

/** A request log entry on its way through the Cloudflare Queue (beside the jobs). */
export interface RequestLogMessage {
  kind: "request_log";
  entry: RequestLogEntry;
}

/** The part of a Cloudflare Queue binding this sink uses. */
export interface QueueSend {
  send(body: RequestLogMessage): Promise<unknown>;
}

export function isRequestLogMessage(body: unknown): body is RequestLogMessage {
  return (body as { kind?: unknown } | null)?.kind === "request_log";
}

/**
 * The API request log on Workers: each entry is sent to the queue, and the consumer writes the
 * entries of a batch in one insert (src/entry/workers.ts). A database write per request would
 * cost each request a PostgREST call, and an isolate cannot share one write between requests
 * (a promise another request started is cancelled with it). Once send() resolves, Cloudflare
 * keeps the entry until the consumer has written it.
 */
export function queueRequestLog(queue: QueueSend): RequestLogSink & { flush(): Promise<void> } {
  return {
    async record(entry) {
      await queue.send({ kind: "request_log", entry });
    },
    flush: () => Promise.resolve(),
  };
}
