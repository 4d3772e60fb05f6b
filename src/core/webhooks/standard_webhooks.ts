import { timingSafeEqual } from "../crypto/hmac.ts";

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
const TOLERANCE_S = 300;

export function generateWebhookSecret(): string {
  return `whsec_${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`;
}

function secretKey(secret: string, usage: KeyUsage): Promise<CryptoKey> {
  const raw = Uint8Array.fromBase64(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

export async function signStandardWebhook(
  input: { secret: string; id: string; timestamp: number; body: string },
): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await secretKey(input.secret, "sign"),
    encoder.encode(`${input.id}.${input.timestamp}.${input.body}`),
  );
  return `v1,${new Uint8Array(mac).toBase64()}`;
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
