import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import {
  constantTimeEqual,
  hashApiKey,
  looksLikeApiKey,
  type Scope,
  SCOPES,
} from "../../core/auth/api_keys.ts";
import { AppError, forbidden, unauthorized } from "../../core/errors.ts";
import { isUuid } from "../../core/ids.ts";
import { isLabel } from "../../core/text.ts";
import type { ApiKeyStore, ClientStore, StoredKey } from "../../ports/clients.ts";
import { addressBucket } from "../../core/net/ip.ts";
import type { AppEnv, Principal } from "../types.ts";

export interface AuthOptions {
  apiKeys: Pick<ApiKeyStore, "findByHash" | "touchLastUsed">;
  clients: Pick<ClientStore, "isActive">;
  pepper: CryptoKey;
  jwtSecret: string;
  jwksUrl?: string;
  /** the longest a user token may live (exp − iat), and be used after it was issued */
  userTokenMaxLifetimeSeconds: number;
  /** how long a verified key stays cached in this isolate; revocation elsewhere waits this long */
  cacheSeconds: number;
  failuresPerMinute: number;
  now?: () => number;
}

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
/**
 * Longer than any credential we accept (API keys are 41 characters, Supabase access tokens one
 * or two kilobytes) and far below the 64 KiB request head Deno's server takes: an oversize header
 * gets our 401 before any parsing, hashing or signature work.
 */
export const MAX_AUTHORIZATION_CHARS = 8192;
// RFC 6750's b64token: what API keys and JWTs are made of
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
/** clocks of the issuer and ours may disagree by this much on iat, nbf and exp */
const CLOCK_TOLERANCE_SECONDS = 30;

/** addresses whose failures are counted at once (the map's bound) */
export const MAX_THROTTLED_ADDRESSES = 50_000;

/**
 * Counts failed authentications per address (an IPv6 client per /64: see addressBucket) in a
 * fixed one-minute window. Per isolate: on Workers each isolate counts on its own, which still
 * slows a guesser by orders of magnitude; the keys' ~190 bits of entropy are the real defence.
 */
export class FailureThrottle {
  #windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private limit: number, private now: () => number) {}

  retryAfter(ip: string): number | null {
    const w = this.#windows.get(ip);
    if (!w) return null;
    const now = this.now();
    if (now >= w.resetAt) {
      this.#windows.delete(ip);
      return null;
    }
    return w.count >= this.limit ? Math.ceil((w.resetAt - now) / 1000) : null;
  }

  fail(ip: string) {
    const now = this.now();
    const w = this.#windows.get(ip);
    if (!w || now >= w.resetAt) {
      // a fresh window goes last (Map keeps insertion order), so the oldest are first
      this.#windows.delete(ip);
      if (this.#windows.size >= MAX_THROTTLED_ADDRESSES) this.#evict(now);
      this.#windows.set(ip, { count: 1, resetAt: now + 60_000 });
    } else w.count++;
  }

  /**
   * Bounded memory without a reset for everyone: the expired windows go first, then the oldest
   * ones. Clearing the whole map instead let a caller with many addresses (an IPv6 /48 holds 65,536
   * /64s) wipe every other address's count at once.
   */
  #evict(now: number) {
    for (const [ip, w] of this.#windows) if (now >= w.resetAt) this.#windows.delete(ip);
    for (const ip of this.#windows.keys()) {
      if (this.#windows.size < MAX_THROTTLED_ADDRESSES * 0.9) break;
      this.#windows.delete(ip);
    }
  }
}

export function createAuthenticator(options: AuthOptions) {
  const now = options.now ?? Date.now;
  const throttle = new FailureThrottle(options.failuresPerMinute, now);
  const keyCache = new Map<string, { key: StoredKey | null; until: number }>();
  const clientCache = new Map<string, { active: boolean; until: number }>();
  const lastUsedWritten = new Map<string, number>();
  // imported once per isolate: jose imports a raw secret again for every token it verifies
  const secret = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : null;

  async function lookupKey(hash: string): Promise<StoredKey | null> {
    const cached = keyCache.get(hash);
    if (cached && cached.until > now()) return cached.key;
    const key = await options.apiKeys.findByHash(hash);
    if (options.cacheSeconds > 0) {
      if (keyCache.size > 10_000) keyCache.clear();
      keyCache.set(hash, { key, until: now() + options.cacheSeconds * 1000 });
    }
    return key;
  }

  async function clientIsActive(clientId: string): Promise<boolean> {
    const cached = clientCache.get(clientId);
    if (cached && cached.until > now()) return cached.active;
    const active = await options.clients.isActive(clientId);
    if (options.cacheSeconds > 0) {
      clientCache.set(clientId, { active, until: now() + options.cacheSeconds * 1000 });
    }
    return active;
  }

  async function fromApiKey(token: string): Promise<Principal | string> {
    const hash = await hashApiKey(options.pepper, token);
    const key = await lookupKey(hash);
    // the index lookup found the row by hash; compare again in constant time before trusting it
    if (!key || !constantTimeEqual(key.key_hash, hash)) return "Unknown API key";
    if (key.revoked_at) return "This API key has been revoked";
    if (key.expires_at && Date.parse(key.expires_at) <= now()) return "This API key has expired";
    if (key.client_status !== "active") return "This client is suspended";
    return {
      clientId: key.client_id,
      scopes: new Set(key.scopes),
      actor: `api_key:${key.id}`,
      keyId: key.id,
      kind: "api_key",
    };
  }

  async function fromUserJwt(token: string): Promise<Principal | string> {
    const maxLifetime = options.userTokenMaxLifetimeSeconds;
    // exp and iat are required (a token without exp would work forever), iat must not be in the
    // future nor older than the longest lifetime, nbf is honoured when present; the same rules on
    // both paths
    const claims = {
      requiredClaims: ["exp", "iat"],
      maxTokenAge: maxLifetime,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now()),
    };
    let payload: JWTPayload;
    try {
      payload = jwks
        ? (await jwtVerify(token, jwks, claims)).payload
        : (await jwtVerify(token, await secret, { ...claims, algorithms: ["HS256"] })).payload;
    } catch {
      return "The access token is invalid or expired";
    }
    // a token issued to live longer than tokens are allowed to is refused even while young
    if (payload.exp! - payload.iat! > maxLifetime) {
      return `The access token lives longer than ${maxLifetime} seconds (exp − iat)`;
    }
    const clientId = (payload.app_metadata as Record<string, unknown> | undefined)?.client_id;
    if (payload.role !== "authenticated" || typeof clientId !== "string" || !isUuid(clientId)) {
      return "The access token does not name a client in app_metadata.client_id";
    }
    if (!(await clientIsActive(clientId))) return "This client is unknown or suspended";
    return {
      clientId,
      scopes: ALL_SCOPES,
      // the actor lands in the audit log: only a sub that is a short one-line string
      actor: `user:${
        typeof payload.sub === "string" && payload.sub.length <= 255 && isLabel(payload.sub)
          ? payload.sub
          : "unknown"
      }`,
      keyId: null,
      kind: "user",
    };
  }

  function touchLastUsed(principal: Principal): Promise<unknown> | null {
    if (!principal.keyId) return null;
    const last = lastUsedWritten.get(principal.keyId) ?? 0;
    if (now() - last < 60_000) return null;
    lastUsedWritten.set(principal.keyId, now());
    return options.apiKeys.touchLastUsed(principal.keyId, now()).catch(() => {});
  }

  /** Resolves the Bearer credential (API key or Supabase user JWT) into a Principal. */
  const authenticate: MiddlewareHandler<AppEnv> = async function authenticate(c, next) {
    const clientIp = c.get("clientIp");
    const ip = clientIp === null ? "unknown" : addressBucket(clientIp);
    const wait = throttle.retryAfter(ip);
    if (wait !== null) {
      throw new AppError(
        429,
        "too_many_failed_attempts",
        "Too many failed authentication attempts from this address; retry later",
        { headers: { "Retry-After": String(wait) } },
      );
    }
    const header = c.req.header("authorization") ?? "";
    if (header.length > MAX_AUTHORIZATION_CHARS) {
      throttle.fail(ip);
      throw unauthorized(
        `The Authorization header is longer than ${MAX_AUTHORIZATION_CHARS} characters`,
      );
    }
    const match = BEARER.exec(header);
    if (!match) {
      throttle.fail(ip);
      throw unauthorized("Send an API key or access token as `Authorization: Bearer <token>`");
    }
    const token = match[1];
    const result = looksLikeApiKey(token)
      ? await fromApiKey(token)
      : token.startsWith("glf_")
      ? "The API key is malformed"
      : await fromUserJwt(token);
    if (typeof result === "string") {
      throttle.fail(ip);
      throw unauthorized(result);
    }
    c.set("principal", result);
    const touched = touchLastUsed(result);
    if (touched) c.env?.waitUntil?.(touched);
    await next();
  };

  return {
    authenticate,
    /** Forget cached key state, e.g. right after a revocation handled by this isolate. */
    invalidate() {
      keyCache.clear();
      clientCache.clear();
    },
  };
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async function requireScope(c, next) {
    if (!c.get("principal").scopes.has(scope)) {
      throw forbidden(`This credential lacks the ${scope} scope`);
    }
    await next();
  };
}
