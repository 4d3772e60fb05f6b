/**
 * Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw
 * request body keyed with the App Secret. There is no timestamp or nonce, so this proves origin
 * and integrity but not freshness; duplicates are handled by deduplicating on wamid downstream.
 *
 * Verify the exact bytes received, before any JSON parse: Meta signs its own serialisation (with
 * non-ASCII escaped as \uXXXX), and any decode/re-encode changes the digest.
 */
import { fromHex, hmacSha256, importHmacKey, timingSafeEqual, toHex } from "../crypto/hmac.ts";

export const META_SIGNATURE_HEADER = "x-hub-signature-256";

const PREFIX = "sha256=";
const DIGEST_HEX_LENGTH = 64;

export type MetaSignatureVerdict =
  | { valid: true }
  | { valid: false; reason: "missing" | "malformed" | "mismatch" };

function parseHeader(header: string): Uint8Array | null {
  const value = header.trim();
  if (!value.startsWith(PREFIX)) return null;
  const hex = value.slice(PREFIX.length);
  // Meta sends lowercase; uppercase hex is the same digest, and fromHex takes both
  return hex.length === DIGEST_HEX_LENGTH ? fromHex(hex) : null;
}

/**
 * Checks the signature header against the raw body. Pass the App Secret already imported (see
 * importHmacKey) on hot paths; a string secret is imported on every call.
 */
export async function verifyMetaSignature(
  rawBody: Uint8Array,
  header: string | null,
  key: CryptoKey | string,
): Promise<MetaSignatureVerdict> {
  if (header === null || header.trim() === "") return { valid: false, reason: "missing" };
  const claimed = parseHeader(header);
  if (!claimed) return { valid: false, reason: "malformed" };
  const expected = await hmacSha256(
    typeof key === "string" ? await importHmacKey(key, ["sign"]) : key,
    rawBody,
  );
  return timingSafeEqual(expected, claimed)
    ? { valid: true }
    : { valid: false, reason: "mismatch" };
}

/** The header value Meta would send for `raw`; for tests, emulators and benchmarks. */
export async function signMetaPayload(
  raw: Uint8Array | string,
  secret: CryptoKey | string,
): Promise<string> {
  return `${PREFIX}${toHex(await hmacSha256(secret, raw))}`;
}
