import assert from "node:assert/strict";
import { base64urlEncode, hmacSha256 } from "../../../src/core/crypto/hmac.ts";
import {
  signSignedRequest,
  verifySignedRequest,
} from "../../../src/core/privacy/meta_signed_request.ts";

const SECRET = "app-secret-for-tests";
const PAYLOAD = { algorithm: "HMAC-SHA256", issued_at: 1_764_576_000, user_id: "218471" };

Deno.test("verifySignedRequest() accepts what Meta signs and reads the app-scoped user id", async () => {
  const verdict = await verifySignedRequest(await signSignedRequest(PAYLOAD, SECRET), SECRET);
  assert.deepEqual(verdict, {
    valid: true,
    request: { userId: "218471", issuedAt: 1_764_576_000 },
  });
});

Deno.test("verifySignedRequest() signs over the encoded payload text, padded or not", async () => {
  // Meta's payload segment is base64url without padding; the MAC is of that text as sent
  const encoded = base64urlEncode(JSON.stringify(PAYLOAD));
  const signature = base64urlEncode(await hmacSha256(SECRET, encoded));
  assert.equal((await verifySignedRequest(`${signature}.${encoded}`, SECRET)).valid, true);
  assert.equal((await verifySignedRequest(`${signature}=.${encoded}`, SECRET)).valid, true);
  const overDecoded = base64urlEncode(await hmacSha256(SECRET, JSON.stringify(PAYLOAD)));
  assert.deepEqual(await verifySignedRequest(`${overDecoded}.${encoded}`, SECRET), {
    valid: false,
    reason: "mismatch",
  });
});

Deno.test("verifySignedRequest() rejects a payload changed by one character", async () => {
  const [signature, encoded] = (await signSignedRequest(PAYLOAD, SECRET)).split(".");
  const flipped = encoded.slice(0, -1) + (encoded.at(-1) === "A" ? "B" : "A");
  assert.deepEqual(await verifySignedRequest(`${signature}.${flipped}`, SECRET), {
    valid: false,
    reason: "mismatch",
  });
});

Deno.test("verifySignedRequest() names why a request is refused", async () => {
  const sign = (p: Record<string, unknown>) => signSignedRequest(p, SECRET);
  const cases: Array<[string | null, string]> = [
    [null, "missing"],
    ["", "missing"],
    ["abc", "malformed"],
    ["a.b.c", "malformed"],
    [`${"x".repeat(43)}.${"y".repeat(5000)}`, "malformed"],
    [`${base64urlEncode(new Uint8Array(16))}.e30`, "malformed"],
    [await signSignedRequest(PAYLOAD, "another secret"), "mismatch"],
    [await sign({ ...PAYLOAD, algorithm: "HMAC-SHA1" }), "unsupported_algorithm"],
    [await sign({ issued_at: 1, user_id: "1" }), "unsupported_algorithm"],
    [await sign({ ...PAYLOAD, user_id: "" }), "malformed"],
    [await sign({ ...PAYLOAD, user_id: "a/b" }), "malformed"],
    [await sign({ ...PAYLOAD, issued_at: "yesterday" }), "malformed"],
  ];
  for (const [input, reason] of cases) {
    assert.deepEqual(
      await verifySignedRequest(input, SECRET),
      { valid: false, reason },
      String(input),
    );
  }
  // a body that signs fine but is no JSON object
  const encoded = base64urlEncode("[1,2]");
  const signature = base64urlEncode(await hmacSha256(SECRET, encoded));
  assert.deepEqual(await verifySignedRequest(`${signature}.${encoded}`, SECRET), {
    valid: false,
    reason: "malformed",
  });
  // a numeric user id is read as the same id
  assert.deepEqual(await verifySignedRequest(await sign({ ...PAYLOAD, user_id: 42 }), SECRET), {
    valid: true,
    request: { userId: "42", issuedAt: PAYLOAD.issued_at },
  });
});
