/**
 * Envelope encryption with AES-256-GCM (Web Crypto, or the synchronous engine of engine.ts where
 * the runtime installed one).
 *
 * Master keys come from configuration and are versioned; each client gets a random data key that
 * is stored wrapped (encrypted) by the active master key. Fields are encrypted with the data key.
 * Rotating the master key re-wraps data keys only, so no field has to be re-encrypted and there is
 * no downtime: old versions keep decrypting until every wrapped key carries the new version.
 * Deleting a client's wrapped key makes its ciphertext unreadable (crypto-shredding).
 */

import { aesGcmDecrypt, aesGcmEncrypt, importRawKey } from "./engine.ts";

const IV_BYTES = 12;
const KEY_BYTES = 32;
const FIELD_PREFIX = "e1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Keyring {
  readonly active: string;
  readonly versions: ReadonlyMap<string, CryptoKey>;
  /** the same master keys as HKDF input, for keys derived per purpose (see systemKey) */
  readonly derivation: ReadonlyMap<string, CryptoKey>;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecryptionError";
  }
}

const b64u = (bytes: Uint8Array) => bytes.toBase64({ alphabet: "base64url", omitPadding: true });
const fromB64u = (text: string) => Uint8Array.fromBase64(text, { alphabet: "base64url" });

function importAesKey(raw: Uint8Array, usages: KeyUsage[]): Promise<CryptoKey> {
  return importRawKey(raw, "AES-GCM", usages);
}

/**
 * Reads `v1:<base64>,v2:<base64>`. The active version is the one named, or else the last listed,
 * so adding a key at the end of the list and redeploying starts a rotation.
 */
export async function parseKeyring(spec: string, active?: string): Promise<Keyring> {
  const versions = new Map<string, CryptoKey>();
  const derivation = new Map<string, CryptoKey>();
  for (const part of spec.split(",")) {
    const [version, encoded] = part.trim().split(":");
    if (!version || !encoded) throw new Error(`Master key entry "${version ?? ""}" is malformed`);
    const raw = Uint8Array.fromBase64(encoded.replaceAll("-", "+").replaceAll("_", "/"));
    if (raw.length !== KEY_BYTES) {
      throw new Error(`Master key ${version} must be ${KEY_BYTES} bytes, got ${raw.length}`);
    }
    if (versions.has(version)) throw new Error(`Master key ${version} is listed twice`);
    versions.set(version, await importAesKey(raw, ["encrypt", "decrypt"]));
    derivation.set(
      version,
      await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]),
    );
  }
  const chosen = active ?? [...versions.keys()].at(-1)!;
  if (!versions.has(chosen)) throw new Error(`Active master key ${chosen} is not in the keyring`);
  return { active: chosen, versions, derivation };
}

/**
 * Each master key as `version:<fingerprint>`, the fingerprint 16 bytes derived with HKDF under a
 * label no encryption key uses: it tells two keys apart (a `v2` generated twice gives two) and says
 * nothing about either. Running apps report theirs so that a rotation can check that every one of
 * them holds the key it is about to wrap every data key under (tools/key_rotation_check.ts).
 */
export async function masterKeyFingerprints(keyring: Keyring): Promise<string[]> {
  return await Promise.all([...keyring.derivation].map(async ([version, base]) => {
    const bits = await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: new Uint8Array(32),
        info: encoder.encode("master-key-fingerprint"),
      },
      base,
      128,
    );
    return `${version}:${b64u(new Uint8Array(bits))}`;
  }));
}

/** A new random master key in the configuration format, for set-up scripts and rotation. */
export function generateMasterKey(version: string): string {
  return `${version}:${crypto.getRandomValues(new Uint8Array(KEY_BYTES)).toBase64()}`;
}

async function seal(key: CryptoKey, plaintext: Uint8Array, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = await aesGcmEncrypt(key, iv, encoder.encode(aad), plaintext);
  return `${b64u(iv)}.${b64u(ct)}`;
}

async function open(key: CryptoKey, sealed: string, aad: string): Promise<Uint8Array> {
  const [iv, ct] = sealed.split(".");
  if (!iv || !ct) throw new DecryptionError("Ciphertext is malformed");
  try {
    return await aesGcmDecrypt(key, fromB64u(iv), encoder.encode(aad), fromB64u(ct));
  } catch {
    // GCM does not say why: wrong key, wrong context or tampered bytes all look the same
    throw new DecryptionError("Ciphertext failed authentication");
  }
}

export interface WrappedDataKey {
  /** `<iv>.<ciphertext>` of the raw data key under the master key `masterKeyVersion` */
  wrapped: string;
  masterKeyVersion: string;
}

/**
 * Creates a data key for `context` (the client id), bound to it through the GCM additional data so
 * one client's wrapped key cannot be swapped in for another's.
 */
export async function createDataKey(
  keyring: Keyring,
  context: string,
): Promise<{ key: CryptoKey; stored: WrappedDataKey }> {
  const raw = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const master = keyring.versions.get(keyring.active)!;
  const wrapped = await seal(master, raw, `dek:${context}`);
  const key = await importAesKey(raw, ["encrypt", "decrypt"]);
  raw.fill(0);
  return { key, stored: { wrapped, masterKeyVersion: keyring.active } };
}

export async function unwrapDataKey(
  keyring: Keyring,
  stored: WrappedDataKey,
  context: string,
): Promise<CryptoKey> {
  const master = keyring.versions.get(stored.masterKeyVersion);
  if (!master) {
    throw new DecryptionError(
      `Master key ${stored.masterKeyVersion} is not configured; add it back to MASTER_KEYS`,
    );
  }
  const raw = await open(master, stored.wrapped, `dek:${context}`);
  try {
    return await importAesKey(raw, ["encrypt", "decrypt"]);
  } finally {
    raw.fill(0);
  }
}

/** Re-wraps a data key under the active master key; the data key itself does not change. */
export async function rewrapDataKey(
  keyring: Keyring,
  stored: WrappedDataKey,
  context: string,
): Promise<WrappedDataKey> {
  const master = keyring.versions.get(stored.masterKeyVersion);
  if (!master) throw new DecryptionError(`Master key ${stored.masterKeyVersion} is not configured`);
  const raw = await open(master, stored.wrapped, `dek:${context}`);
  try {
    const active = keyring.versions.get(keyring.active)!;
    return { wrapped: await seal(active, raw, `dek:${context}`), masterKeyVersion: keyring.active };
  } finally {
    raw.fill(0);
  }
}

/**
 * Encrypts one field. `context` names where the value lives (for example `wa_token:<waba id>`),
 * so a ciphertext copied into another column or row fails to decrypt.
 */
export async function encryptField(key: CryptoKey, plaintext: string, context: string) {
  return `${FIELD_PREFIX}.${await seal(key, encoder.encode(plaintext), context)}`;
}

export async function decryptField(key: CryptoKey, ciphertext: string, context: string) {
  if (!ciphertext.startsWith(`${FIELD_PREFIX}.`)) {
    throw new DecryptionError("Ciphertext has an unknown format");
  }
  return decoder.decode(await open(key, ciphertext.slice(FIELD_PREFIX.length + 1), context));
}

/**
 * decryptField for a field whose row is writable under the client's own scope (RLS lets the
 * client-scoped token the edge mints update that client's rows at PostgREST) or whose key was shredded: null when the field is absent or does not
 * open under `key` and `context`, so a read can answer "not stored" instead of failing. A data key
 * that cannot be unwrapped (a master key missing) still fails before this is reached.
 */
export async function decryptFieldIfReadable(
  key: CryptoKey,
  ciphertext: string | null,
  context: string,
): Promise<string | null> {
  if (ciphertext === null) return null;
  try {
    return await decryptField(key, ciphertext, context);
  } catch (error) {
    if (error instanceof DecryptionError) return null;
    throw error;
  }
}

const derivedKeys = new WeakMap<Keyring, Map<string, Promise<CryptoKey>>>();

function systemKey(keyring: Keyring, version: string, label: string): Promise<CryptoKey> {
  let systemKeys = derivedKeys.get(keyring);
  if (!systemKeys) derivedKeys.set(keyring, systemKeys = new Map());
  const id = `${version}/${label}`;
  let key = systemKeys.get(id);
  if (!key) {
    const base = keyring.derivation.get(version);
    if (!base) throw new DecryptionError(`Master key ${version} is not configured`);
    // the same bytes deriveKey(HKDF → AES-GCM 256) would make, imported so either engine can use them
    key = crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: encoder.encode(label) },
      base,
      KEY_BYTES * 8,
    ).then(async (bits) => {
      const raw = new Uint8Array(bits);
      try {
        return await importAesKey(raw, ["encrypt", "decrypt"]);
      } finally {
        raw.fill(0);
      }
    });
    if (systemKeys.size > 256) systemKeys.clear();
    systemKeys.set(id, key);
  }
  return key;
}

/**
 * Encrypts data that belongs to no client yet (a webhook before it is routed). The key is derived
 * per purpose and per UTC day from the active master key, which keeps each AES-GCM key far below
 * its random-nonce usage limit at any webhook rate, and lets old days be shredded by rotation.
 */
export async function encryptSystem(
  keyring: Keyring,
  purpose: string,
  plaintext: string,
  now = new Date(),
): Promise<string> {
  const label = `${purpose}:${now.toISOString().slice(0, 10)}`;
  const key = await systemKey(keyring, keyring.active, label);
  return `s1.${keyring.active}.${label}.${await seal(key, encoder.encode(plaintext), label)}`;
}

export async function decryptSystem(keyring: Keyring, ciphertext: string): Promise<string> {
  const [prefix, version, label, iv, ct] = ciphertext.split(".");
  if (prefix !== "s1" || !version || !label || !iv || !ct) {
    throw new DecryptionError("Ciphertext has an unknown format");
  }
  const key = await systemKey(keyring, version, label);
  return decoder.decode(await open(key, `${iv}.${ct}`, label));
}
