import {
  base64Decode,
  base64Encode,
  hmacSha256,
  importHmacKey,
  timingSafeEqual,
} from "../crypto/hmac.ts";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 under the secret's bytes (the base64
 * after `whsec_`), sent as `webhook-signature: v1,<base64>`; several space-separated signatures
 * may appear (during secret rotation).
 */
export const WEBHOOK_HEADERS = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

const encoder = new TextEncoder();
const SECRET_PREFIX = "whsec_";
/** how far a timestamp may be from now, either way, before it counts as a replay */
const TOLERANCE_S = 300;

export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${base64Encode(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/**
 * The signing key of a `whsec_` secret. A sender that signs many messages with one secret imports
 * it once and passes the key to signStandardWebhook (importing costs about as much as one MAC).
 */
export function webhookSigningKey(secret: string): Promise<CryptoKey> {
  const raw = base64Decode(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
  );
  if (!raw?.length) {
    return Promise.reject(new Error("The webhook secret is not whsec_ followed by base64"));
  }
  return importHmacKey(raw, ["sign"]);
}

/** The `webhook-signature` header value for one message: `v1,<base64 HMAC-SHA256>`. */
export async function signStandardWebhook(
  input: { secret: string | CryptoKey; id: string; timestamp: number; body: string },
): Promise<string> {
  const mac = await hmacSha256(
    typeof input.secret === "string" ? await webhookSigningKey(input.secret) : input.secret,
    `${input.id}.${input.timestamp}.${input.body}`,
  );
  return `v1,${base64Encode(mac)}`;
}

/** For receivers (and our tests): checks the signature and that the timestamp is recent. */
export async function verifyStandardWebhook(input: {
  secret: string;
  headers: Headers;
  body: string;
  now?: number;
}): Promise<{ valid: true } | { valid: false; reason: "missing" | "stale" | "mismatch" }> {
  const id = input.headers.get(WEBHOOK_HEADERS.id);
  const ts = input.headers.get(WEBHOOK_HEADERS.timestamp);
  const sigs = input.headers.get(WEBHOOK_HEADERS.signature);
  if (!id || !ts || !sigs) return { valid: false, reason: "missing" };
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  if (!/^\d+$/.test(ts) || Math.abs(now - Number(ts)) > TOLERANCE_S) {
    return { valid: false, reason: "stale" };
  }
  const expected = encoder.encode(
    await signStandardWebhook({
      secret: input.secret,
      id,
      timestamp: Number(ts),
      body: input.body,
    }),
  );
  for (const candidate of sigs.split(" ")) {
    if (timingSafeEqual(encoder.encode(candidate), expected)) return { valid: true };
  }
  return { valid: false, reason: "mismatch" };
}
