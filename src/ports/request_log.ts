export interface RequestLogEntry {
  client_id: string | null;
  request_id: string;
  method: string;
  route: string;
  status: number;
  latency_ms: number;
  ip: string | null;
  user_agent: string | null;
}

/** Where API request metadata goes. `record` returns a promise a runtime can keep alive (waitUntil). */
export interface RequestLogSink {
  record(entry: RequestLogEntry): Promise<void>;
}
