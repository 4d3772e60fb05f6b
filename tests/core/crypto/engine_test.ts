import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import fc from "fast-check";
import {
  installSyncCrypto,
  sha256,
  type SyncCryptoEngine,
} from "../../../src/core/crypto/engine.ts";
import {
  createDataKey,
  decryptField,
  DecryptionError,
  decryptSystem,
  encryptField,
  encryptSystem,
  generateMasterKey,
  parseKeyring,
  unwrapDataKey,
} from "../../../src/core/crypto/envelope.ts";
import { hmacSha256, importHmacKey, toHex } from "../../../src/core/crypto/hmac.ts";

/** node:crypto, counting calls: a test that passed through Web Crypto alone proves nothing */
const calls = { cipher: 0, decipher: 0, hmac: 0, hash: 0 };
const node = nodeCrypto as unknown as SyncCryptoEngine;
const engine: SyncCryptoEngine = {
  createCipheriv: (...args) => (calls.cipher++, node.createCipheriv(...args)),
  createDecipheriv: (...args) => (calls.decipher++, node.createDecipheriv(...args)),
  createHmac: (...args) => (calls.hmac++, node.createHmac(...args)),
  createHash: (...args) => (calls.hash++, node.createHash(...args)),
};

/** Runs `fn` with the synchronous engine installed, and always removes it afterwards. */
async function withEngine<T>(fn: () => Promise<T>): Promise<T> {
  installSyncCrypto(engine);
  try {
    return await fn();
  } finally {
    installSyncCrypto(null);
  }
}

const MASTER = generateMasterKey("v1");

Deno.test("fields sealed by either engine open under the other, for any text and context", async () => {
  const webRing = await parseKeyring(MASTER);
  const { key: webKey, stored } = await createDataKey(webRing, "client-1");
  const nodeKey = await withEngine(async () =>
    unwrapDataKey(await parseKeyring(MASTER), stored, "client-1")
  );
  const before = { ...calls };
  installSyncCrypto(engine);
  try {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme" }), fc.string(), async (text, ctx) => {
        // nodeKey goes through node:crypto, webKey (imported without the engine) through Web Crypto
        assert.equal(await decryptField(webKey, await encryptField(nodeKey, text, ctx), ctx), text);
        assert.equal(await decryptField(nodeKey, await encryptField(webKey, text, ctx), ctx), text);
      }),
      { numRuns: 150 },
    );
  } finally {
    installSyncCrypto(null);
  }
  assert.equal(calls.cipher - before.cipher, 150);
  assert.equal(calls.decipher - before.decipher, 150);
});

Deno.test("the synchronous engine refuses a tampered ciphertext, a wrong context and a truncated one", async () => {
  await withEngine(async () => {
    const ring = await parseKeyring(MASTER);
    const { key } = await createDataKey(ring, "client-1");
    const sealed = await encryptField(key, "hello", "message:1");
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.at(-1);
    await assert.rejects(decryptField(key, flipped, "message:1"), DecryptionError);
    await assert.rejects(decryptField(key, sealed, "message:2"), DecryptionError);
    const [prefix, iv] = sealed.split(".");
    await assert.rejects(decryptField(key, `${prefix}.${iv}.AAAA`, "message:1"), DecryptionError);
    assert.equal(await decryptField(key, sealed, "message:1"), "hello");
  });
});

Deno.test("system ciphertexts (per-day HKDF keys) are the same under both engines", async () => {
  const webRing = await parseKeyring(MASTER);
  const nodeRing = await withEngine(() => parseKeyring(MASTER));
  const day = new Date("2026-11-30T12:00:00Z");
  const fromWeb = await encryptSystem(webRing, "inbox", "payload", day);
  const before = calls.cipher;
  const fromNode = await withEngine(() => encryptSystem(nodeRing, "inbox", "payload", day));
  assert.equal(calls.cipher, before + 1);
  assert.equal(await withEngine(() => decryptSystem(nodeRing, fromWeb)), "payload");
  assert.equal(await decryptSystem(webRing, fromNode), "payload");
});

Deno.test("HMAC-SHA256 and SHA-256 give the same bytes under both engines (RFC 4231 case 2)", async () => {
  const expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const webKey = await importHmacKey("Jefe");
  assert.equal(toHex(await hmacSha256(webKey, "what do ya want for nothing?")), expected);
  const before = { ...calls };
  await withEngine(async () => {
    const nodeKey = await importHmacKey("Jefe");
    assert.equal(toHex(await hmacSha256(nodeKey, "what do ya want for nothing?")), expected);
    assert.equal(
      toHex(await sha256(new TextEncoder().encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
  assert.deepEqual([calls.hmac - before.hmac, calls.hash - before.hash], [1, 1]);
  assert.equal(
    toHex(await sha256(new TextEncoder().encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
