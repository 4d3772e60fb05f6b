import assert from "node:assert/strict";
import fc from "fast-check";
import {
  createDataKey,
  decryptField,
  DecryptionError,
  decryptSystem,
  encryptField,
  encryptSystem,
  generateMasterKey,
  masterKeyFingerprints,
  parseKeyring,
  rewrapDataKey,
  unwrapDataKey,
} from "../../../src/core/crypto/envelope.ts";

Deno.test("encryptField() round-trips any text and never stores it in clear", async () => {
  const ring = await parseKeyring(generateMasterKey("v1"));
  const { key } = await createDataKey(ring, "client-1");
  await fc.assert(
    fc.asyncProperty(fc.string({ minLength: 1, unit: "grapheme" }), async (text) => {
      const ct = await encryptField(key, text, "ctx");
      assert.ok(!ct.includes(text) || text.length < 3);
      assert.equal(await decryptField(key, ct, "ctx"), text);
    }),
    { numRuns: 200 },
  );
});

Deno.test("decryptField() rejects a ciphertext moved to another context or changed by one character", async () => {
  const ring = await parseKeyring(generateMasterKey("v1"));
  const { key } = await createDataKey(ring, "client-1");
  const ct = await encryptField(key, "EAAG-secret-token", "wa_token:1");
  await assert.rejects(decryptField(key, ct, "wa_token:2"), DecryptionError);
  const flipped = ct.slice(0, -2) + (ct.at(-2) === "A" ? "B" : "A") + ct.at(-1);
  await assert.rejects(decryptField(key, flipped, "wa_token:1"), DecryptionError);
});

Deno.test("a data key wrapped for one client cannot be unwrapped as another's", async () => {
  const ring = await parseKeyring(generateMasterKey("v1"));
  const { stored } = await createDataKey(ring, "client-a");
  await assert.rejects(unwrapDataKey(ring, stored, "client-b"), DecryptionError);
});

Deno.test("rewrapDataKey() moves a data key to the new master key and old ciphertext still decrypts", async () => {
  const v1 = generateMasterKey("v1");
  const v2 = generateMasterKey("v2");
  const ring1 = await parseKeyring(v1);
  const { key, stored } = await createDataKey(ring1, "c");
  const ct = await encryptField(key, "hello", "f");
  const ring12 = await parseKeyring(`${v1},${v2}`);
  assert.equal(ring12.active, "v2");
  const moved = await rewrapDataKey(ring12, stored, "c");
  assert.equal(moved.masterKeyVersion, "v2");
  const ring2only = await parseKeyring(v2);
  const again = await unwrapDataKey(ring2only, moved, "c");
  assert.equal(await decryptField(again, ct, "f"), "hello");
  await assert.rejects(unwrapDataKey(ring2only, stored, "c"), /not configured/);
});

Deno.test("parseKeyring() refuses short keys, duplicates and an unknown active version", async () => {
  await assert.rejects(parseKeyring("v1:AAAA"), /32 bytes/);
  const k = generateMasterKey("v1");
  await assert.rejects(parseKeyring(`${k},${k}`), /listed twice/);
  await assert.rejects(parseKeyring(k, "v9"), /not in the keyring/);
});

Deno.test("encryptSystem() round-trips with a per-day key and fails under another keyring", async () => {
  const ring = await parseKeyring(generateMasterKey("v1"));
  const ct = await encryptSystem(
    ring,
    "inbox",
    '{"hello":"world"}',
    new Date("2026-11-24T10:00:00Z"),
  );
  assert.match(ct, /^s1\.v1\.inbox:2026-11-24\./);
  assert.equal(await decryptSystem(ring, ct), '{"hello":"world"}');
  const other = await parseKeyring(generateMasterKey("v1"));
  await assert.rejects(decryptSystem(other, ct), DecryptionError);
});

Deno.test("masterKeyFingerprints() tells two keys of one name apart and is the same for the same key", async () => {
  const [a, b] = [generateMasterKey("v2"), generateMasterKey("v2")];
  const [fa] = await masterKeyFingerprints(await parseKeyring(a));
  const [fb] = await masterKeyFingerprints(await parseKeyring(b));
  assert.match(fa, /^v2:[A-Za-z0-9_-]{22}$/);
  assert.notEqual(fa, fb);
  const both = await masterKeyFingerprints(await parseKeyring(`${generateMasterKey("v1")},${a}`));
  assert.equal(both[1], fa, "the fingerprint depends on the key, not on the keyring around it");
  assert.ok(!fa.includes(a.split(":")[1].slice(0, 12)), "nothing of the key shows");
});
