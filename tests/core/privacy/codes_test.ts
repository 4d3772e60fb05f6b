import assert from "node:assert/strict";
import {
  newConfirmationCode,
  newVerificationCode,
  normaliseConfirmationCode,
  normaliseVerificationCode,
  privacyHashes,
  sameHash,
} from "../../../src/core/privacy/codes.ts";

Deno.test("a confirmation code is 20 Crockford base32 characters in groups of four, and reads back as typed", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const code = newConfirmationCode();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$/);
    seen.add(code);
    assert.equal(normaliseConfirmationCode(code.toLowerCase().replaceAll("-", " ")), code);
  }
  assert.equal(seen.size, 200);
  assert.equal(normaliseConfirmationCode("oooo-iiii-llll-0000-1111"), "0000-1111-1111-0000-1111");
  for (
    const bad of [
      "",
      "ABCD",
      "UUUU-UUUU-UUUU-UUUU-UUUU",
      "x".repeat(100),
      "ABCD-EFGH-JKMN-PQRS-TVW",
    ]
  ) {
    assert.equal(normaliseConfirmationCode(bad), null, bad);
  }
});

Deno.test("a verification code is six digits, each value about equally likely", () => {
  const firstDigits = new Array(10).fill(0);
  for (let i = 0; i < 20_000; i++) {
    const code = newVerificationCode();
    assert.match(code, /^[0-9]{6}$/);
    firstDigits[Number(code[0])]++;
  }
  // 2,000 expected per digit; a biased generator (modulo of a 32-bit word) stays within this too,
  // so the bound is loose: it catches a broken one, such as one that never starts with 9
  for (const n of firstDigits) assert.ok(n > 1_700 && n < 2_300, `${firstDigits}`);
  assert.equal(normaliseVerificationCode(" 123 456 "), "123456");
  assert.equal(normaliseVerificationCode("12345"), null);
  assert.equal(normaliseVerificationCode("12345a"), null);
});

Deno.test("the keyed hashes depend on the pepper, their purpose and their request, and compare in constant time", async () => {
  const a = privacyHashes("pepper-one-pepper-one-pepper-one-x");
  const b = privacyHashes("pepper-two-pepper-two-pepper-two-x");
  const code = "123456";
  const h = await a.verificationCode("request-1", code);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(h, await a.verificationCode("request-1", code));
  assert.notEqual(h, await a.verificationCode("request-2", code), "bound to its request");
  assert.notEqual(h, await b.verificationCode("request-1", code), "keyed by the pepper");
  assert.notEqual(await a.subject("wa:447700900123"), await a.reference("wa:447700900123"));
  assert.ok(sameHash(h, await a.verificationCode("request-1", code)));
  assert.ok(!sameHash(h, await a.verificationCode("request-1", "123457")));
  assert.ok(!sameHash(h, h.slice(0, 63)));
});
