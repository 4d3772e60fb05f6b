import * as z from "zod";
import { hmacSha256, importHmacKey, timingSafeEqual, toHex } from "../crypto/hmac.ts";

/**
 * What an API key may do. A key holds the scopes it was created with, listed one by one: a scope
 * added to this list later (templates:read and templates:manage came with message templates) is
 * not held by keys created before it. A Supabase Auth user of the client holds every scope.
 */
export const SCOPES = [
  "messages:send",
  "messages:read",
  "contacts:read",
  "contacts:write",
  "templates:read",
  "templates:manage",
  "plugins:manage",
  "webhooks:manage",
  "api-keys:manage",
  "privacy:write",
] as const;
export type Scope = (typeof SCOPES)[number];
export const ScopeSchema = z.enum(SCOPES);

export type KeyEnvironment = "live" | "test";

const IsoTimeSchema = z.iso.datetime({ offset: true });

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

/** The longest lifetime a key can be given; further ahead means "never": omit the expiry. */
export const MAX_KEY_LIFETIME_YEARS = 5;

/**
 * Why `expiresAt` cannot be a new key's expiry, or null when it can. A key born expired (or
 * expiring within the minute) is always a mistake, a wrong date or time zone, and would look
 * issued while it never works; an expiry centuries away is "never" in disguise.
 */
export function keyExpiryProblem(expiresAt: string | null, now: number): string | null {
  if (expiresAt === null) return null;
  const at = Date.parse(expiresAt);
  if (!IsoTimeSchema.safeParse(expiresAt).success || !Number.isFinite(at)) {
    return "The expiry must be an ISO 8601 time with an offset, such as 2027-01-31T00:00:00Z";
  }
  if (at < now + 60_000) {
    return "The expiry must be at least a minute in the future: a key cannot be created already expired";
  }
  const latest = new Date(now);
  latest.setUTCFullYear(latest.getUTCFullYear() + MAX_KEY_LIFETIME_YEARS);
  if (at > latest.getTime()) {
    return `The expiry must be within ${MAX_KEY_LIFETIME_YEARS} years; omit it for a key that does not expire`;
  }
  return null;
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
