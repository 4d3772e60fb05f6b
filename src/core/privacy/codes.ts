/**
 * The secrets of the privacy workflow and how they are stored.
 *
 * - A confirmation code names a request to its subject (Meta shows it to the person, our status
 *   page takes it). It leads to the request's export, so it is a bearer secret: 20 characters of
 *   Crockford's base32 (100 bits), stored only as a keyed hash.
 * - A verification code is the one-time code sent to the subject's WhatsApp number: 6 digits,
 *   stored as a keyed hash bound to its request, compared in constant time.
 * - A subject is matched across requests by a keyed hash of who they are.
 *
 * Every hash is an HMAC under a key derived from API_KEY_PEPPER, which never lives in the
 * database: a dump of it cannot be searched through the million codes or the few billion phone
 * numbers there are.
 */
import { hmacSha256, importHmacKey, timingSafeEqual, toHex } from "../crypto/hmac.ts";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_CHARS = 20;

export interface PrivacyHashes {
  reference(code: string): Promise<string>;
  subject(identity: string): Promise<string>;
  verificationCode(requestId: string, code: string): Promise<string>;
}

/** The keyed hashes, each purpose under its own key derived from the pepper. */
export function privacyHashes(pepper: string): PrivacyHashes {
  const keys = new Map<string, Promise<CryptoKey>>();
  const keyFor = (purpose: string) => {
    let key = keys.get(purpose);
    if (!key) {
      key = hmacSha256(pepper, `glooft-edge privacy key: ${purpose}`).then((raw) =>
        importHmacKey(raw, ["sign"])
      );
      keys.set(purpose, key);
    }
    return key;
  };
  const mac = async (purpose: string, text: string) =>
    toHex(await hmacSha256(await keyFor(purpose), text));
  return {
    reference: (code) => mac("confirmation code", code),
    subject: (identity) => mac("subject", identity),
    verificationCode: (requestId, code) => mac("verification code", `${requestId}|${code}`),
  };
}

/** Compares two hex hashes in time that depends only on their length. */
export function sameHash(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  return timingSafeEqual(encoder.encode(a), encoder.encode(b));
}

/** A new confirmation code, shown in groups of four: `7K3Q-…`. */
export function newConfirmationCode(): string {
  const chars: string[] = [];
  // 256 is a multiple of 32: every byte's low five bits are uniform
  for (const byte of crypto.getRandomValues(new Uint8Array(CODE_CHARS))) {
    chars.push(CROCKFORD[byte & 31]);
  }
  return chars.join("").match(/.{4}/g)!.join("-");
}

/**
 * The code as typed or pasted (any case, spaces or dashes, O for 0, I or L for 1), in the form
 * it was issued, or null when it cannot be one.
 */
export function normaliseConfirmationCode(input: string): string | null {
  if (input.length > 64) return null;
  const compact = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(
    /[IL]/g,
    "1",
  );
  if (compact.length !== CODE_CHARS || ![...compact].every((c) => CROCKFORD.includes(c))) {
    return null;
  }
  return compact.match(/.{4}/g)!.join("-");
}

/** A one-time code of six digits, every value equally likely. */
export function newVerificationCode(): string {
  const buffer = new Uint32Array(1);
  // rejection sampling: the top values of a 32-bit word would favour the low codes
  const limit = Math.floor(0x1_0000_0000 / 1_000_000) * 1_000_000;
  do crypto.getRandomValues(buffer); while (buffer[0] >= limit);
  return String(buffer[0] % 1_000_000).padStart(6, "0");
}

/** A code as typed (spaces allowed), or null when it cannot be a six-digit code. */
export function normaliseVerificationCode(input: string): string | null {
  const digits = input.replace(/\s/g, "");
  return /^[0-9]{6}$/.test(digits) ? digits : null;
}
