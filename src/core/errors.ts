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

/**
 * A failed PostgREST call, keeping PostgREST's or PostgreSQL's error code, so the HTTP layer can
 * tell a value the database refused (a 400 for the caller) from a fault of ours (a 500).
 */
export class DatabaseError extends Error {
  readonly code: string | null;

  constructor(readonly what: string, error: { message: string; code?: string | null }) {
    super(`${what}: ${error.message}`);
    this.name = "DatabaseError";
    this.code = error.code ?? null;
  }

  /**
   * Errors only a value in the request can cause once our own queries are right: PostgreSQL's
   * data exceptions (class 22: a string that is not a uuid or a time, a time out of range, NUL in
   * text, a number out of range), check constraints (23514), an index entry too large (54000),
   * and PostgREST refusing to parse a filter or a body (PGRST100, PGRST102). Routes validate
   * input before any call, so reaching one of these means a schema misses a rule: the HTTP layer
   * answers 400 and logs the code so the rule gets added.
   */
  get refusedInput(): boolean {
    const code = this.code ?? "";
    return code.startsWith("22") || ["23514", "54000", "PGRST100", "PGRST102"].includes(code);
  }
}
