import type { webhooks } from "./generated/schema.ts";

type EventBody<W> = W extends
  { post: { requestBody: { content: { "application/json": infer B } } } } ? B
  : never;

/**
 * Any event a webhook endpoint receives, as the API documents it (`webhooks` in
 * /openapi.json); switch on `type`. A type the API adds after this version of the client is
 * returned as it is: keep a `default` branch.
 */
export type WebhookEvent = { [K in keyof webhooks]: EventBody<webhooks[K]> }[keyof webhooks];
export type WebhookEventType = WebhookEvent["type"];
/** One event type's body, for example `WebhookEventOf<"message.status">`. */
export type WebhookEventOf<T extends WebhookEventType> = Extract<WebhookEvent, { type: T }>;

/** The Standard Webhooks headers every event carries. */
export const WEBHOOK_HEADERS = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

export type WebhookVerificationReason =
  | "missing_headers"
  | "invalid_secret"
  | "invalid_timestamp"
  | "stale_timestamp"
  | "invalid_signature"
  | "invalid_body";

/** The request is not an event this endpoint's secret signed recently: answer 400 and drop it. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  constructor(readonly reason: WebhookVerificationReason, message: string) {
    super(message);
  }
}

/** A received request: a Fetch `Request`, or the raw body and headers your framework gives. */
export type WebhookInput =
  | Request
  | {
    /** the body exactly as received (bytes or text), before any JSON parsing */
    body: string | Uint8Array | ArrayBuffer;
    headers: Headers | Record<string, string | string[] | undefined>;
  };

export interface VerifyWebhookOptions {
  /** the endpoint's signing secret (`whsec_…`), as `POST /v1/webhook-endpoints` returned it */
  secret: string;
  /** how far `webhook-timestamp` may be from now, either way, in seconds (default 300) */
  toleranceSeconds?: number;
  /** the current time in milliseconds (default `Date.now()`) */
  now?: number;
}

const encoder = new TextEncoder();
/** More signatures than a sender rotating secrets would ever send are not checked. */
const MAX_SIGNATURES = 16;

/**
 * Verifies a client webhook per Standard Webhooks and returns its event, typed: the HMAC-SHA256
 * of `{webhook-id}.{webhook-timestamp}.{raw body}` under the secret must match one `v1,`
 * signature (checked with Web Crypto's `verify`, in constant time), and the timestamp must be
 * within the tolerance, so a captured request cannot be replayed later. Runs wherever Web Crypto
 * does: Node 20+, Deno, Bun, Cloudflare Workers. Throws `WebhookVerificationError`. Deduplicate
 * on `webhook-id`: a retried event keeps its id.
 */
export async function verifyWebhook(
  input: WebhookInput,
  options: VerifyWebhookOptions,
): Promise<WebhookEvent> {
  const headers = input instanceof Request ? input.headers : toHeaders(input.headers);
  const id = headers.get(WEBHOOK_HEADERS.id);
  const timestamp = headers.get(WEBHOOK_HEADERS.timestamp);
  const signatures = headers.get(WEBHOOK_HEADERS.signature);
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "missing_headers",
      "The webhook-id, webhook-timestamp and webhook-signature headers are required",
    );
  }
  const key = await signingKey(options.secret);
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError("invalid_timestamp", "The webhook-timestamp is not a time");
  }
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError(
      "stale_timestamp",
      "The webhook-timestamp is too far from now",
    );
  }

  const body = input instanceof Request
    ? new Uint8Array(await input.arrayBuffer())
    : typeof input.body === "string"
    ? encoder.encode(input.body)
    : new Uint8Array(input.body);
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);

  let valid = false;
  for (const candidate of signatures.split(" ").slice(0, MAX_SIGNATURES)) {
    const [version, value] = candidate.split(",", 2);
    const mac = version === "v1" && value ? base64Decode(value) : null;
    // subtle.verify compares in constant time; a failed check does not end the loop early, so
    // the time taken does not tell which candidate matched
    if (mac && await crypto.subtle.verify("HMAC", key, mac, signed)) valid = true;
  }
  if (!valid) {
    throw new WebhookVerificationError(
      "invalid_signature",
      "No webhook-signature matches this body and secret",
    );
  }
  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError("invalid_body", "The signed body is not JSON");
  }
}

function signingKey(secret: string): Promise<CryptoKey> {
  const raw = base64Decode(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  if (!raw?.length) {
    throw new WebhookVerificationError(
      "invalid_secret",
      "The secret is not whsec_ followed by base64",
    );
  }
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
    "verify",
  ]);
}

function base64Decode(value: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function toHeaders(source: Headers | Record<string, string | string[] | undefined>): Headers {
  if (source instanceof Headers) return source;
  const headers = new Headers();
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    // Node's IncomingHttpHeaders gives repeated headers as arrays; a signature list is one line
    headers.set(name, Array.isArray(value) ? value.join(" ") : value);
  }
  return headers;
}
