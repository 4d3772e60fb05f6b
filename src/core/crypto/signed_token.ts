/**
 * Opaque tokens the server hands out and takes back (pagination cursors): a short payload plus an
 * HMAC-SHA256 under a key derived from a server secret, bound to a context (which list, which
 * client). A token the server did not issue for that context opens to null, so nothing a client
 * crafts ever reaches a query; callers still check the payload's shape after opening it.
 */

import {
  base64urlDecode,
  base64urlEncode,
  hmacSha256,
  importHmacKey,
  timingSafeEqual,
} from "./hmac.ts";

/** 128 bits: a forgery needs 2^128 guesses, and the token stays short in a query string */
const MAC_BYTES = 16;
/**
 * payloads are a timestamp or a sort key (a template name: up to 512 characters) and an id or
 * two; anything longer was not issued here
 */
const MAX_TOKEN_CHARS = 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface SignedTokens {
  sign(context: string, payload: string): Promise<string>;
  /** The payload, or null when the token is malformed, forged or was issued for another context */
  open(context: string, token: string): Promise<string | null>;
}

/**
 * Tokens for one `purpose`, keyed by HMAC(secret, purpose): each purpose gets its own key, and the
 * secret itself never signs anything a client sees.
 */
export function signedTokens(secret: string, purpose: string): SignedTokens {
  let key: Promise<CryptoKey> | undefined;
  const macKey = () =>
    key ??= hmacSha256(secret, `glooft-edge signed token key: ${purpose}`).then((raw) =>
      importHmacKey(raw, ["sign"])
    );
  // the context is length-prefixed so "a|b" + "c" and "a" + "b|c" never sign the same bytes
  const mac = async (context: string, payload: Uint8Array) => {
    const ctx = encoder.encode(context);
    const data = new Uint8Array(4 + ctx.length + payload.length);
    new DataView(data.buffer).setUint32(0, ctx.length);
    data.set(ctx, 4);
    data.set(payload, 4 + ctx.length);
    return (await hmacSha256(await macKey(), data)).subarray(0, MAC_BYTES);
  };
  return {
    async sign(context, payload) {
      const bytes = encoder.encode(payload);
      return `${base64urlEncode(bytes)}.${base64urlEncode(await mac(context, bytes))}`;
    },
    async open(context, token) {
      if (token.length > MAX_TOKEN_CHARS) return null;
      const dot = token.indexOf(".");
      if (dot < 0) return null;
      const payload = base64urlDecode(token.slice(0, dot));
      const tag = base64urlDecode(token.slice(dot + 1));
      if (!payload || !tag || tag.length !== MAC_BYTES) return null;
      if (!timingSafeEqual(tag, await mac(context, payload))) return null;
      try {
        return decoder.decode(payload);
      } catch {
        return null;
      }
    },
  };
}
