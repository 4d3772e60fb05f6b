/**
 * Every error code an answer can carry, with its HTTP status and what it means. Codes are a
 * contract (clients branch on them), so they are listed once, here: AppError and the error
 * envelope accept no other, and the OpenAPI document lists all of them (`ErrorCode`, and the
 * errors table of its description), so a new code cannot ship undocumented.
 */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    meaning: "The request does not match the schema (`details` names each bad field)",
  },
  invalid_cursor: { status: 400, meaning: "The `cursor` is not one this API returned" },
  invalid_recipient: {
    status: 400,
    meaning: "`to` is not a phone number in international format or a business-scoped user id",
  },
  invalid_contact: {
    status: 400,
    meaning: "The contact is named by neither an id, a phone number nor a business-scoped user id",
  },
  invalid_webhook_url: {
    status: 400,
    meaning: "The webhook URL is not a public https target this deployment may call",
  },
  invalid_json: { status: 400, meaning: "A provider webhook's body is not JSON" },
  invalid_payload: {
    status: 400,
    meaning: "A provider webhook's or callback's body is not the documented shape",
  },
  unauthorized: { status: 401, meaning: "Missing, unknown, revoked or expired credential" },
  invalid_signature: {
    status: 401,
    meaning:
      "A provider's signature (a webhook's header, Meta's signed_request) is missing or does not match",
  },
  forbidden: { status: 403, meaning: "The credential lacks the scope this route needs" },
  verification_failed: {
    status: 403,
    meaning: "The webhook verification handshake named the wrong verify token",
  },
  not_found: { status: 404, meaning: "No such route, or no such resource for this client" },
  method_not_allowed: { status: 405, meaning: "The route does not take this method" },
  idempotency_key_reused: {
    status: 409,
    meaning: "This Idempotency-Key was already used with a different request body",
  },
  not_dead_lettered: {
    status: 409,
    meaning: "Only a message whose retries ran out (dead-lettered) can be re-driven",
  },
  message_not_resendable: {
    status: 409,
    meaning:
      "The dead-lettered message's content or recipient is not stored in a form that can be sent again",
  },
  webhook_endpoint_disabled: {
    status: 409,
    meaning: 'The webhook endpoint is disabled; re-enable it with PATCH {"enabled": true} first',
  },
  webhook_endpoint_limit: {
    status: 409,
    meaning: "The client already has as many webhook endpoints as it may (10)",
  },
  plugin_routing_key_taken: {
    status: 409,
    meaning: "Another client's installation of this plugin already holds that routing key " +
      "(a shop domain, say)",
  },
  template_exists: {
    status: 409,
    meaning: "A template of this name and language exists in the account; delete it or rename",
  },
  payload_too_large: { status: 413, meaning: "The body is larger than this route accepts" },
  unsupported_media_type: { status: 415, meaning: "The body's Content-Type is not accepted here" },
  contact_opted_out: {
    status: 422,
    meaning: "The contact opted out of messages from this business; nothing was sent",
  },
  outside_customer_service_window: {
    status: 422,
    meaning:
      "A free-form message outside the 24-hour customer-service window; send a template instead",
  },
  unknown_phone_number: { status: 422, meaning: "No such sending phone number for this client" },
  phone_number_required: {
    status: 422,
    meaning: "The client has several phone numbers: say which one sends with `phone_number_id`",
  },
  unknown_subject: {
    status: 422,
    meaning:
      "No contact of this client has this number: a verification code goes only to the client's own contacts",
  },
  verification_unavailable: {
    status: 422,
    meaning:
      "This deployment sends no verification codes (no privacy sender is configured): attest the request instead",
  },
  no_access_token: {
    status: 422,
    meaning: "The WhatsApp Business account has no access token configured",
  },
  plugin_verification_failed: {
    status: 422,
    meaning: "The plugin could not confirm that the config's routing key is this client's " +
      "(`message` says why)",
  },
  unknown_waba: {
    status: 422,
    meaning: "No such WhatsApp Business account (`waba_id`) for this client",
  },
  waba_required: {
    status: 422,
    meaning: "The client has several WhatsApp Business accounts: say which one with `waba_id`",
  },
  template_not_found: {
    status: 422,
    meaning: "No template of this name in this language in the sending number's account " +
      "(`details.languages` lists the languages it exists in)",
  },
  template_not_approved: {
    status: 422,
    meaning: "The template is not approved by Meta (pending, rejected, …); nothing was sent",
  },
  template_paused: {
    status: 422,
    meaning: "Meta paused the template for low quality; it cannot be sent until approved again",
  },
  template_disabled: {
    status: 422,
    meaning: "Meta disabled the template; it cannot be sent",
  },
  template_parameters_mismatch: {
    status: 422,
    meaning: "The parameters do not fit the template's slots (`details.problems` names each)",
  },
  too_many_failed_attempts: {
    status: 429,
    meaning: "Too many failed authentications from this address; wait `Retry-After` seconds",
  },
  rate_limited: { status: 429, meaning: "Too many requests; wait `Retry-After` seconds if given" },
  internal_error: {
    status: 500,
    meaning: "Something went wrong on our side; quote `request_id` when reporting it",
  },
  graph_error: {
    status: 502,
    meaning: "Meta's Graph API refused or failed the call (`details` carries Meta's code)",
  },
  misconfigured: { status: 503, meaning: "The deployment is missing or has invalid settings" },
  http_error: {
    status: null,
    meaning: "Any other refusal of the HTTP layer, with the status it carries",
  },
} as const satisfies Record<string, { status: number | null; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The status a code is always answered with (never for a code without a fixed one). */
type StatusOf<C extends ErrorCode> = Exclude<(typeof ERROR_CODES)[C]["status"], null>;

/**
 * The one error type the HTTP layer turns into the error envelope
 * `{"error": {"code", "message", "request_id"}}`. The status must be the code's own.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly status: StatusOf<C>,
    readonly code: C,
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
