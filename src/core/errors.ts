/**
 * The one error type the HTTP layer turns into the error envelope
 * `{"error": {"code", "message", "request_id"}}`. Codes are stable: clients branch on them.
 */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    readonly options: { headers?: Record<string, string>; details?: unknown } = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const unauthorized = (message = "Missing or invalid credentials") =>
  new AppError(401, "unauthorized", message, {
    headers: { "WWW-Authenticate": 'Bearer realm="glooft-edge"' },
  });

export const forbidden = (message: string) => new AppError(403, "forbidden", message);

export const notFound = (what: string) => new AppError(404, "not_found", `${what} not found`);
