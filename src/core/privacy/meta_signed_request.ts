/**
 * Meta's data deletion callback: a form field `signed_request` that reads
 * `base64url(signature).base64url(payload)`, where the signature is an HMAC-SHA256 of the encoded
 * payload text (not of the decoded JSON) under the app secret, and the payload is JSON with
 * `algorithm: "HMAC-SHA256"`, `issued_at` and the app-scoped `user_id` of the person who asked.
 *
 * Verified before anything is parsed or stored, in constant time, with one verdict naming why a
 * request is refused; nothing about a refused request is kept.
 */
import { base64urlDecode, base64urlEncode, hmacSha256, timingSafeEqual } from "../crypto/hmac.ts";

/** Meta's are a few hundred characters; anything far longer was not sent by Meta. */
export const MAX_SIGNED_REQUEST_CHARS = 4096;
const SIGNATURE_BYTES = 32;
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface MetaDeletionRequest {
  /** the app-scoped user id of the person who asked to delete their data */
  userId: string;
  /** when Meta issued the request (seconds since the epoch) */
  issuedAt: number;
}

export type SignedRequestVerdict =
  | { valid: true; request: MetaDeletionRequest }
  | { valid: false; reason: "missing" | "malformed" | "mismatch" | "unsupported_algorithm" };

export async function verifySignedRequest(
  signedRequest: string | null | undefined,
  appSecret: CryptoKey | string,
): Promise<SignedRequestVerdict> {
  if (!signedRequest) return { valid: false, reason: "missing" };
  if (signedRequest.length > MAX_SIGNED_REQUEST_CHARS) return { valid: false, reason: "malformed" };
  const parts = signedRequest.trim().split(".");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { valid: false, reason: "malformed" };
  const [encodedSignature, encodedPayload] = parts;
  const signature = base64urlDecode(encodedSignature);
  if (!signature || signature.length !== SIGNATURE_BYTES) {
    return { valid: false, reason: "malformed" };
  }
  const expected = await hmacSha256(appSecret, encodedPayload);
  // the MAC is checked before the payload is even decoded: a forgery learns nothing else
  if (!timingSafeEqual(expected, signature)) return { valid: false, reason: "mismatch" };
  const bytes = base64urlDecode(encodedPayload);
  if (!bytes) return { valid: false, reason: "malformed" };
  let payload: unknown;
  try {
    payload = JSON.parse(decoder.decode(bytes));
  } catch {
    return { valid: false, reason: "malformed" };
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    return { valid: false, reason: "malformed" };
  }
  const { algorithm, user_id: userId, issued_at: issuedAt } = payload as Record<string, unknown>;
  if (typeof algorithm !== "string" || algorithm.toUpperCase() !== "HMAC-SHA256") {
    return { valid: false, reason: "unsupported_algorithm" };
  }
  const id = typeof userId === "number" ? String(userId) : userId;
  if (typeof id !== "string" || !/^[0-9A-Za-z_-]{1,64}$/.test(id)) {
    return { valid: false, reason: "malformed" };
  }
  if (typeof issuedAt !== "number" || !Number.isSafeInteger(issuedAt) || issuedAt < 0) {
    return { valid: false, reason: "malformed" };
  }
  return { valid: true, request: { userId: id, issuedAt } };
}

/** A signed_request as Meta would send it; for tests and the local stack. */
export async function signSignedRequest(
  payload: Record<string, unknown>,
  appSecret: CryptoKey | string,
): Promise<string> {
  const encoded = base64urlEncode(JSON.stringify(payload));
  return `${base64urlEncode(await hmacSha256(appSecret, encoded))}.${encoded}`;
}
