/**
 * An optional synchronous engine for the two primitives on our hot paths, AES-256-GCM and
 * HMAC-SHA256. Web Crypto stays the default and the only engine on Workers. On Deno every
 * `crypto.subtle` call is an async op whose fixed cost outweighs the cipher at our sizes (the
 * webhook CPU benchmark of docs/benchmarks.md), several per webhook; `node:crypto`'s one-shot
 * ciphers run the same OpenSSL-class primitives synchronously for a fraction of that. The Deno
 * entry point installs it; ciphertexts and MACs are byte-for-byte the same under both engines
 * (tests/core/crypto/engine_test.ts).
 *
 * The core never imports `node:crypto` itself, so the Workers bundle does not carry it: the engine
 * is handed in. Keys stay CryptoKeys everywhere; while an engine is installed, keys imported
 * through this module also keep their raw bytes in a WeakMap that dies with the key.
 */

/** The slice of `node:crypto` we use (Node and Deno both provide it). */
export interface SyncCryptoEngine {
  createCipheriv(algorithm: "aes-256-gcm", key: Uint8Array, iv: Uint8Array): {
    setAAD(aad: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    getAuthTag(): Uint8Array;
  };
  createDecipheriv(algorithm: "aes-256-gcm", key: Uint8Array, iv: Uint8Array): {
    setAAD(aad: Uint8Array): unknown;
    setAuthTag(tag: Uint8Array): unknown;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
  };
  createHmac(algorithm: "sha256", key: Uint8Array): {
    update(data: Uint8Array): unknown;
    digest(): Uint8Array;
  };
  createHash(algorithm: "sha256"): { update(data: Uint8Array): unknown; digest(): Uint8Array };
}

const TAG_BYTES = 16;
let engine: SyncCryptoEngine | null = null;
const rawKeys = new WeakMap<CryptoKey, Uint8Array>();

/** Installs (or, with null, removes) the synchronous engine for keys imported from now on. */
export function installSyncCrypto(next: SyncCryptoEngine | null): void {
  engine = next;
}

/** Imports a raw key with Web Crypto and, while an engine is installed, remembers its bytes. */
export async function importRawKey(
  raw: Uint8Array,
  algorithm: "AES-GCM" | { name: "HMAC"; hash: "SHA-256" },
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const key = await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    algorithm,
    false,
    usages,
  );
  if (engine) rawKeys.set(key, raw.slice());
  return key;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

const gcm = (iv: Uint8Array, aad: Uint8Array): AesGcmParams => ({
  name: "AES-GCM",
  iv: iv as Uint8Array<ArrayBuffer>,
  additionalData: aad as Uint8Array<ArrayBuffer>,
});

/** AES-256-GCM: ciphertext followed by the 16-byte tag, as Web Crypto returns it. */
export async function aesGcmEncrypt(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const raw = engine && rawKeys.get(key);
  if (engine && raw) {
    const cipher = engine.createCipheriv("aes-256-gcm", raw, iv);
    cipher.setAAD(aad);
    return concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }
  return new Uint8Array(
    await crypto.subtle.encrypt(
      gcm(iv, aad),
      key,
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
}

/** Opens what aesGcmEncrypt sealed; throws when authentication fails. */
export async function aesGcmDecrypt(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  const raw = engine && rawKeys.get(key);
  if (engine && raw) {
    if (sealed.length < TAG_BYTES) throw new Error("Ciphertext is shorter than its tag");
    const decipher = engine.createDecipheriv("aes-256-gcm", raw, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  }
  return new Uint8Array(
    await crypto.subtle.decrypt(
      gcm(iv, aad),
      key,
      sealed as Uint8Array<ArrayBuffer>,
    ),
  );
}

/** SHA-256 of `data`. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  if (engine) {
    const hash = engine.createHash("sha256");
    hash.update(data);
    const digest = hash.digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/** HMAC-SHA256 under an imported key. */
export async function hmacSign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const raw = engine && rawKeys.get(key);
  if (engine && raw) {
    const mac = engine.createHmac("sha256", raw);
    mac.update(data);
    const digest = mac.digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as Uint8Array<ArrayBuffer>));
}
