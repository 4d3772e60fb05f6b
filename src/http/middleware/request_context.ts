import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../ports/logger.ts";
import type { RequestLogSink } from "../../ports/request_log.ts";
import type { AppEnv } from "../types.ts";
import type { ClientAddress } from "../client_address.ts";

const INCOMING_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * Gives each request an id (a well-formed incoming X-Request-Id is kept, so traces join up), a
 * logger tagged with it, the client's address as the runtime's policy finds it (once, so the
 * throttle and the log agree), and after the response one log line and, unless the route recorded
 * the request elsewhere or needs no record (AppEnv's `unlogged`), one API request log entry. Only
 * technical metadata is recorded: never bodies, query strings or credentials.
 */
export function requestContext(
  options: { logger: Logger; sink: RequestLogSink; clientAddress: ClientAddress },
) {
  return async function requestContext(c, next) {
    const started = performance.now();
    const at = Date.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("logger", options.logger.child({ request_id: requestId }));
    c.set("clientIp", options.clientAddress(c.req.raw.headers, c.env?.remoteAddr));
    await next();
    // on the response itself: Hono's c.header() on a finished response copies the whole response
    // (every header validated again), which cost more than the rest of this middleware
    c.res.headers.set("X-Request-Id", requestId);
    const latency = Math.round((performance.now() - started) * 100) / 100;
    const principal = c.get("principal");
    // the matched pattern, not the path: paths can carry ids that are personal data
    const route = c.req.routePath === "/*" ? "(unmatched)" : c.req.routePath;
    const clientId = principal?.clientId ?? null;
    c.get("logger").info("http_request", {
      method: c.req.method,
      route,
      status: c.res.status,
      latency_ms: latency,
      client_id: clientId,
    });
    if (c.get("unlogged")) return;
    const entry = {
      client_id: clientId,
      request_id: requestId,
      method: c.req.method,
      route,
      status: c.res.status,
      latency_ms: latency,
      ip: c.get("clientIp"),
      user_agent: c.req.header("user-agent")?.slice(0, 512) ?? null,
      // when the request came, not when its row is written (a queue may carry it first)
      created_at: new Date(at).toISOString(),
    };
    const pending = options.sink.record(entry).catch((error) =>
      options.logger.error("request_log_failed", { message: String(error?.message ?? error) })
    );
    c.env?.waitUntil?.(pending);
  } satisfies MiddlewareHandler<AppEnv>;
}
