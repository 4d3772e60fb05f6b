import type { components } from "./generated/schema.ts";

/** The error envelope every error answer of the API carries. */
export type ErrorEnvelope = components["schemas"]["Error"];

/**
 * An error answer of the API (any status ≥ 400), with the envelope's fields: branch on `code`
 * (`unauthorized`, `forbidden`, `invalid_request`, `not_found`, `idempotency_key_reused`,
 * `contact_opted_out`, …), quote `requestId` when asking for help. An answer that does not carry
 * the envelope (a proxy's error page) gets the code `http_<status>`.
 */
export class GlooftError extends Error {
  override readonly name = "GlooftError";
  /** the HTTP status */
  readonly status: number;
  /** the stable code to branch on */
  readonly code: string;
  /** the server's id of the request (also in the `X-Request-Id` header) */
  readonly requestId: string | null;
  /** for `invalid_request`: each bad field with what is wrong with it */
  readonly details: unknown;
  /** the answer's headers (`Retry-After` on 429) */
  readonly headers: Headers;

  constructor(status: number, envelope: ErrorEnvelope | null, headers: Headers) {
    super(envelope?.error.message ?? `The API answered HTTP ${status} without an error envelope`);
    this.status = status;
    this.code = envelope?.error.code ?? `http_${status}`;
    this.requestId = envelope?.error.request_id ?? headers.get("x-request-id");
    this.details = envelope?.error.details;
    this.headers = headers;
  }

  /** The error for a failed answer whose body openapi-fetch parsed (or could not). */
  static fromResponse(response: Response, body: unknown): GlooftError {
    return new GlooftError(response.status, isEnvelope(body) ? body : null, response.headers);
  }
}

function isEnvelope(body: unknown): body is ErrorEnvelope {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === "string" && typeof error.message === "string";
}
