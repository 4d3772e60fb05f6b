export interface RequestLogEntry {
  client_id: string | null;
  request_id: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  ip: string | null;
  user_agent: string | null;
  /** when the request came (ISO 8601) */
  created_at: string;
}

/** Where API request metadata goes. `record` returns a promise a runtime can keep alive (waitUntil). */
export interface RequestLogSink {
  record(entry: RequestLogEntry): Promise<void>;
}

/** Where request log entries are kept (public.api_request_log): many rows in one write. */
export interface RequestLogStore {
  insert(entries: RequestLogEntry[]): Promise<void>;
}
