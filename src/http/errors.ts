import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, DatabaseError, type ErrorCode } from "../core/errors.ts";
import type { AppEnv } from "./types.ts";

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

export function errorBody(
  c: Context<AppEnv>,
  code: ErrorCode,
  message: string,
  details?: unknown,
) {
  return {
    error: {
      code,
      message,
      request_id: c.get("requestId") ?? null,
      ...(details === undefined ? {} : { details }),
    },
  };
}

/** The single place where any thrown error becomes the error envelope. */
export function onError(err: Error, c: Context<AppEnv>) {
  if (err instanceof AppError) {
    for (const [k, v] of Object.entries(err.options.headers ?? {})) c.header(k, v);
    return c.json(errorBody(c, err.code, err.message, err.options.details), err.status);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    return c.json(
      errorBody(c, CODE_BY_STATUS[status] ?? "http_error", err.message || "Request failed"),
      status,
    );
  }
  if (err instanceof DatabaseError && err.refusedInput) {
    // the code and what failed, never the message: PostgreSQL quotes the refused value
    c.get("logger")?.warn("database_refused_input", { what: err.what, code: err.code });
    return c.json(
      errorBody(
        c,
        "invalid_request",
        "The request holds a value that cannot be stored or compared",
      ),
      400,
    );
  }
  c.get("logger")?.error("unhandled_error", { name: err.name, message: err.message });
  return c.json(errorBody(c, "internal_error", "Something went wrong on our side"), 500);
}

export function onNotFound(c: Context<AppEnv>) {
  return c.json(errorBody(c, "not_found", `No route for ${c.req.method} ${c.req.path}`), 404);
}
