import assert from "node:assert/strict";
import { importHmacKey } from "../../../src/core/crypto/hmac.ts";
import {
  META_SIGNATURE_HEADER,
  signMetaPayload,
  verifyMetaSignature,
} from "../../../src/core/whatsapp/signature.ts";
import {
  buildEnvelope,
  buildInbound,
  buildMessagesChange,
  signedRequestInit,
} from "../../_support/meta_payloads.ts";

const APP_SECRET = "0f3e9c1b7a5d4e2f8a6b0c9d1e3f5a7b";
const encode = (text: string) => new TextEncoder().encode(text);

async function signedText(text = "Olá, já chegou? 📦") {
  const body = buildEnvelope([
    buildMessagesChange({ inbound: [buildInbound({ type: "text", payload: { body: text } })] }),
  ]);
  const init = await signedRequestInit(body, APP_SECRET);
  return { raw: encode(init.body), header: init.headers[META_SIGNATURE_HEADER], init };
}

Deno.test("verifyMetaSignature() accepts a body signed with the app secret", async () => {
  const { raw, header } = await signedText();
  assert.deepEqual(await verifyMetaSignature(raw, header, APP_SECRET), { valid: true });
});

Deno.test("verifyMetaSignature() accepts a cached CryptoKey as well as the secret string", async () => {
  const { raw, header } = await signedText();
  const key = await importHmacKey(APP_SECRET);
  assert.deepEqual(await verifyMetaSignature(raw, header, key), { valid: true });
});

Deno.test("verifyMetaSignature() verifies Meta's escaped-unicode body byte for byte", async () => {
  const { init, raw, header } = await signedText("äöå");
  assert.ok(init.body.includes("\\u00e4\\u00f6\\u00e5"), "non-ASCII is escaped like Meta's");
  assert.deepEqual(await verifyMetaSignature(raw, header, APP_SECRET), { valid: true });
  // decoding and re-serialising the JSON changes the bytes, so the digest no longer matches
  const reencoded = encode(JSON.stringify(JSON.parse(init.body)));
  assert.deepEqual(await verifyMetaSignature(reencoded, header, APP_SECRET), {
    valid: false,
    reason: "mismatch",
  });
});

Deno.test("verifyMetaSignature() rejects a missing or empty header as missing", async () => {
  const { raw } = await signedText();
  for (const header of [null, "", "   "]) {
    assert.deepEqual(await verifyMetaSignature(raw, header, APP_SECRET), {
      valid: false,
      reason: "missing",
    });
  }
});

Deno.test("verifyMetaSignature() rejects a header that is not sha256=<64 hex> as malformed", async () => {
  const { raw, header } = await signedText();
  const hex = header.slice("sha256=".length);
  const malformed = [
    hex,
    `sha1=${hex.slice(0, 40)}`,
    `sha256=${hex.slice(0, 63)}`,
    `sha256=${hex}00`,
    `sha256=${hex.slice(0, 62)}zz`,
    `SHA256 ${hex}`,
    "sha256=",
  ];
  for (const value of malformed) {
    assert.deepEqual(
      await verifyMetaSignature(raw, value, APP_SECRET),
      { valid: false, reason: "malformed" },
      value,
    );
  }
});

Deno.test("verifyMetaSignature() tolerates uppercase hex and surrounding whitespace", async () => {
  const { raw, header } = await signedText();
  const upper = `sha256=${header.slice(7).toUpperCase()}`;
  assert.deepEqual(await verifyMetaSignature(raw, ` ${upper} `, APP_SECRET), { valid: true });
});

Deno.test("verifyMetaSignature() rejects a signature made with another secret", async () => {
  const { raw } = await signedText();
  const header = await signMetaPayload(raw, "not-the-app-secret");
  assert.deepEqual(await verifyMetaSignature(raw, header, APP_SECRET), {
    valid: false,
    reason: "mismatch",
  });
});

Deno.test("verifyMetaSignature() rejects a body changed by one byte", async () => {
  const { raw, header } = await signedText();
  for (const at of [0, Math.floor(raw.length / 2), raw.length - 1]) {
    const tampered = raw.slice();
    tampered[at] ^= 0x01;
    assert.deepEqual(await verifyMetaSignature(tampered, header, APP_SECRET), {
      valid: false,
      reason: "mismatch",
    });
  }
  const truncated = raw.subarray(0, raw.length - 1);
  assert.deepEqual(await verifyMetaSignature(truncated, header, APP_SECRET), {
    valid: false,
    reason: "mismatch",
  });
});

Deno.test("signMetaPayload() gives the same header for a string and its UTF-8 bytes", async () => {
  const text = '{"object":"whatsapp_business_account","entry":[]}';
  const header = await signMetaPayload(text, APP_SECRET);
  assert.match(header, /^sha256=[0-9a-f]{64}$/);
  assert.equal(await signMetaPayload(encode(text), APP_SECRET), header);
});
