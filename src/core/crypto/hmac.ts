/**
 * HMAC-SHA256 (Web Crypto, or the synchronous engine of engine.ts where the runtime installed one)
 * and the byte encodings that go with it, in plain JavaScript so the same code runs on Workers, Deno
 * and Node (no `Uint8Array.fromHex`/`toBase64`, which not
 * every runtime we deploy to ships yet).
 */

import { hmacSign, importRawKey } from "./engine.ts";

const encoder = new TextEncoder();

const bytesOf = (value: string | Uint8Array): Uint8Array =>
  typeof value === "string" ? encoder.encode(value) : value;

/**
 * Imports an HMAC-SHA256 key. Importing costs about as much as one short MAC, so callers that
 * verify on every request (webhooks) import once and keep the CryptoKey.
 */
export function importHmacKey(
  secret: string | Uint8Array,
  usages: KeyUsage[] = ["sign", "verify"],
): Promise<CryptoKey> {
  return importRawKey(bytesOf(secret), { name: "HMAC", hash: "SHA-256" }, usages);
}

/** HMAC-SHA256 of `data`; pass a CryptoKey from importHmacKey() to skip the import. */
export async function hmacSha256(
  secret: string | Uint8Array | CryptoKey,
  data: string | Uint8Array,
): Promise<Uint8Array> {
  const key = secret instanceof CryptoKey ? secret : await importHmacKey(secret, ["sign"]);
  return await hmacSign(key, bytesOf(data));
}

/**
 * Compares two byte strings in time that depends only on their lengths, never on where they
 * differ. A length mismatch still walks the longer input so it does not return early.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  // out-of-range reads give undefined, and `undefined | 0` is 0, so no branch on content
  for (let i = 0; i < length; i++) diff |= (a[i] | 0) ^ (b[i] | 0);
  return diff === 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex, the form Meta uses in `X-Hub-Signature-256`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/** Decodes hex in either case; null for an odd length or any non-hex character. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const CHUNK = 0x8000;

/** Standard base64 with padding. */
export function base64Encode(data: string | Uint8Array): string {
  const bytes = bytesOf(data);
  let binary = "";
  // chunked because String.fromCharCode(...bigArray) overflows the argument limit
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Decodes standard base64 (padding optional); null when the text is not base64. */
export function base64Decode(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
    return null;
  }
  const binary = atob(text.replace(/=+$/, ""));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** URL-safe base64 without padding (RFC 4648 §5), as used in JWTs and signed requests. */
export function base64urlEncode(data: string | Uint8Array): string {
  return base64Encode(data).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes URL-safe base64, padded or not; null when the text is not base64url. */
export function base64urlDecode(text: string): Uint8Array | null {
  if (/[+/]/.test(text)) return null;
  return base64Decode(text.replaceAll("-", "+").replaceAll("_", "/"));
}
