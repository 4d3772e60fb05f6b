import { jwtVerify } from "jose";
import { SHOP_DOMAIN } from "./config.ts";

/**
 * Shopify's session token (App Bridge's "ID token"): an HS256 JWT signed with the app's client
 * secret, living one minute, with `aud` the app's client id, `iss` the shop's admin URL and `dest`
 * the shop's URL (https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens).
 * Checked as Shopify's own library does (`decode-session-token.ts`): HS256 only, 10 s of clock
 * skew on exp and nbf, the audience; plus that `iss` and `dest` name the same well-formed shop.
 */

export interface SessionToken {
  shop: string;
  /** the staff member's id (`sub`) */
  userId: string;
  sessionId: string | null;
}

const CLOCK_SKEW_SECONDS = 10;
/** a session token is a few hundred characters; anything much longer is not one */
const MAX_TOKEN_CHARS = 4096;

const keys = new Map<string, Uint8Array>();
const keyOf = (secret: string) => {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size > 8) keys.clear();
    keys.set(secret, key = new TextEncoder().encode(secret));
  }
  return key;
};

/** The token's shop and user, or null when it is not a valid session token of this app. */
export async function verifySessionToken(
  token: string | null | undefined,
  app: { apiKey: string; secrets: readonly string[] },
  now: Date = new Date(),
): Promise<SessionToken | null> {
  if (!token || token.length > MAX_TOKEN_CHARS) return null;
  for (const secret of app.secrets) {
    try {
      const { payload } = await jwtVerify(token, keyOf(secret), {
        algorithms: ["HS256"],
        audience: app.apiKey,
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: now,
        requiredClaims: ["exp", "iss", "dest", "sub"],
      });
      const dest = typeof payload.dest === "string" ? hostOf(payload.dest) : null;
      const iss = typeof payload.iss === "string" ? new URL(payload.iss) : null;
      if (!dest || !SHOP_DOMAIN.test(dest)) return null;
      if (!iss || iss.protocol !== "https:" || iss.host !== dest || iss.pathname !== "/admin") {
        return null;
      }
      return {
        shop: dest,
        userId: String(payload.sub),
        sessionId: typeof payload.sid === "string" ? payload.sid : null,
      };
    } catch {
      // the next secret (a rotation), or not a token of ours
    }
  }
  return null;
}

function hostOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "https:" ? u.host : null;
  } catch {
    return null;
  }
}

/**
 * A link code: what a merchant gives its WhatsApp provider to prove that the client installing the
 * plugin for a shop was given it by someone who can open the app in that shop's admin (only they
 * see it). `<expiry>.<mac>` with a key derived from the client secret for this purpose only: the
 * secret itself signs nothing of ours, so no code can pass for a webhook's HMAC.
 */
const LINK_CODE_DAYS = 7;

async function linkMac(secret: string, shop: string, expires: number): Promise<string> {
  const derived = await hmac(new TextEncoder().encode(secret), "glooft shopify link code key");
  const mac = await hmac(derived, `${shop}\n${expires}`);
  return btoa(String.fromCharCode(...mac.subarray(0, 16))).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

async function hmac(key: Uint8Array<ArrayBuffer>, data: string) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(data)));
}

export async function linkCode(secret: string, shop: string, now = Date.now()): Promise<string> {
  const expires = Math.floor(now / 1000) + LINK_CODE_DAYS * 86_400;
  return `${expires}.${await linkMac(secret, shop, expires)}`;
}

/** Why a link code does not prove the shop, or null when it does. */
export async function checkLinkCode(
  code: string | undefined,
  shop: string,
  secrets: readonly string[],
  now = Date.now(),
): Promise<string | null> {
  const match = /^([0-9]{10})\.([A-Za-z0-9_-]{22})$/.exec(code?.trim() ?? "");
  if (!match) return "set the secret link_code to the code the app shows in the shop's admin";
  const expires = Number(match[1]);
  if (expires * 1000 < now) return "the link code has expired: open the app again for a new one";
  let valid = false;
  for (const secret of secrets) {
    const expected = await linkMac(secret, shop, expires);
    // constant-time: the whole string is compared whatever differs
    let diff = expected.length ^ match[2].length;
    for (let i = 0; i < expected.length; i++) {
      diff |= expected.charCodeAt(i) ^ match[2].charCodeAt(i);
    }
    valid = valid || diff === 0;
  }
  return valid ? null : "the link code is not this shop's";
}
