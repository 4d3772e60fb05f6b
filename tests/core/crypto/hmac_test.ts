import assert from "node:assert/strict";
import fc from "fast-check";
import {
  base64Decode,
  base64Encode,
  base64urlDecode,
  base64urlEncode,
  fromHex,
  hmacSha256,
  importHmacKey,
  timingSafeEqual,
  toHex,
} from "../../../src/core/crypto/hmac.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("hmacSha256() matches RFC 4231 test case 2", async () => {
  const mac = await hmacSha256("Jefe", "what do ya want for nothing?");
  assert.equal(
    toHex(mac),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
});

Deno.test("hmacSha256() gives the same MAC for a string secret, its bytes and a cached key", async () => {
  const secret = "app-secret-ä";
  const data = new TextEncoder().encode('{"object":"whatsapp_business_account"}');
  const fromString = await hmacSha256(secret, data);
  const fromBytes = await hmacSha256(new TextEncoder().encode(secret), data);
  const fromKey = await hmacSha256(await importHmacKey(secret), data);
  assert.deepEqual(fromBytes, fromString);
  assert.deepEqual(fromKey, fromString);
  assert.equal(fromString.length, 32);
});

Deno.test("toHex() and fromHex() round-trip any bytes and agree with the platform encoder", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
      const hex = toHex(data);
      assert.equal(hex, data.toHex());
      assert.deepEqual(fromHex(hex), data);
      assert.deepEqual(fromHex(hex.toUpperCase()), data);
    }),
  );
});

Deno.test("fromHex() returns null for an odd length or a non-hex character", () => {
  assert.equal(fromHex("abc"), null);
  assert.equal(fromHex("zz"), null);
  assert.equal(fromHex("0g"), null);
  assert.equal(fromHex(" 0a"), null);
  assert.deepEqual(fromHex(""), new Uint8Array());
});

Deno.test("timingSafeEqual() is true only for identical bytes", () => {
  assert.equal(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2, 3)), true);
  assert.equal(timingSafeEqual(bytes(), bytes()), true);
  assert.equal(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2, 4)), false);
  assert.equal(timingSafeEqual(bytes(0, 2, 3), bytes(1, 2, 3)), false);
});

Deno.test("timingSafeEqual() is false when one input is a prefix of the other, or padded with zeros", () => {
  assert.equal(timingSafeEqual(bytes(1, 2), bytes(1, 2, 3)), false);
  assert.equal(timingSafeEqual(bytes(1, 2, 3), bytes(1, 2)), false);
  assert.equal(timingSafeEqual(bytes(1, 2), bytes(1, 2, 0)), false);
  assert.equal(timingSafeEqual(bytes(), bytes(0)), false);
});

Deno.test("timingSafeEqual() agrees with a plain comparison on random inputs", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
      const same = a.length === b.length && a.every((x, i) => x === b[i]);
      assert.equal(timingSafeEqual(a, b), same);
      assert.equal(timingSafeEqual(a, a.slice()), true);
    }),
  );
});

Deno.test("base64Encode() matches the RFC 4648 vectors", () => {
  const vectors = ["", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"];
  vectors.forEach((expected, n) => assert.equal(base64Encode("foobar".slice(0, n)), expected));
});

Deno.test("base64 and base64url round-trip any bytes and agree with the platform encoder", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      const std = base64Encode(data);
      const url = base64urlEncode(data);
      assert.equal(std, data.toBase64());
      assert.equal(url, data.toBase64({ alphabet: "base64url", omitPadding: true }));
      assert.deepEqual(base64Decode(std), data);
      assert.deepEqual(base64urlDecode(url), data);
      assert.deepEqual(base64urlDecode(url + "=".repeat((4 - url.length % 4) % 4)), data);
    }),
  );
});

Deno.test("base64Encode() handles inputs larger than the argument-spread limit", () => {
  const big = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) & 0xff);
  assert.deepEqual(base64Decode(base64Encode(big)), big);
});

Deno.test("base64Decode() and base64urlDecode() return null for text in the wrong alphabet", () => {
  assert.equal(base64Decode("ab-_"), null);
  assert.equal(base64Decode("a b="), null);
  assert.equal(base64Decode("abcde"), null);
  assert.equal(base64urlDecode("ab+/"), null);
  assert.equal(base64urlDecode("%%"), null);
});
