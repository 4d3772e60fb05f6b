import * as z from "zod";
import { hmacSha256, importHmacKey, timingSafeEqual, toHex } from "../crypto/hmac.ts";

/** What an API key may do. A Supabase Auth user of the client holds every scope. */
export const SCOPES = [
  "messages:send",
  "messages:read",
  "contacts:read",
  "contacts:write",
  "plugins:manage",
  "webhooks:manage",
  "api-keys:manage",
  "privacy:write",
] as const;
export type Scope = (typeof SCOPES)[number];
export const ScopeSchema = z.enum(SCOPES);

export type KeyEnvironment = "live" | "test";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LENGTH = 32; // 32 base62 characters ≈ 190 bits
const KEY_PATTERN = /^glf_(live|test)_[0-9A-Za-z]{32}$/;
const encoder = new TextEncoder();

export function generateApiKey(environment: KeyEnvironment): { key: string; prefix: string } {
  // rejection sampling keeps every character uniformly likely
  const chars: string[] = [];
  while (chars.length < SECRET_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(48))) {
      if (byte < 248 && chars.length < SECRET_LENGTH) chars.push(ALPHABET[byte % 62]);
    }
  }
  const key = `glf_${environment}_${chars.join("")}`;
  return { key, prefix: key.slice(0, 13) };
}

export function looksLikeApiKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

export function importPepper(pepper: string): Promise<CryptoKey> {
  return importHmacKey(pepper, ["sign"]);
}

/**
 * Keys are stored as HMAC-SHA256 under a server-side pepper: a leaked table alone cannot be used to
 * check guesses. Keys carry ~190 bits of entropy, so a slow password hash would add nothing.
 */
export async function hashApiKey(pepper: CryptoKey, key: string): Promise<string> {
  return toHex(await hmacSha256(pepper, key));
}

/** Constant-time equality for secrets held as text (hex digests, tokens). */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(encoder.encode(a), encoder.encode(b));
}
