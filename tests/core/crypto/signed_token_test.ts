import assert from "node:assert/strict";
import fc from "fast-check";
import { signedTokens } from "../../../src/core/crypto/signed_token.ts";

const tokens = signedTokens("a server secret of at least thirty-two chars", "test cursor");

Deno.test("signedTokens() opens what it signed, for the same context only", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: "grapheme", maxLength: 120 }),
      fc.string({ maxLength: 40 }),
      fc.string({ maxLength: 40 }),
      async (payload, context, other) => {
        const token = await tokens.sign(context, payload);
        assert.equal(await tokens.open(context, token), payload);
        if (other !== context) assert.equal(await tokens.open(other, token), null);
      },
    ),
    { seed: 1202, numRuns: 300 },
  );
});

Deno.test("signedTokens() never opens a changed token to a different payload", async () => {
  const token = await tokens.sign("messages:client-a", "2026-12-01T15:07:39.177123+00:00|id");
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: token.length - 1 }),
      fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.,=|%"),
      async (at, ch) => {
        const changed = token.slice(0, at) + ch + token.slice(at + 1);
        const opened = await tokens.open("messages:client-a", changed);
        assert.ok(
          opened === null || changed === token ||
            opened === await tokens.open("messages:client-a", token),
        );
      },
    ),
    { seed: 1202, numRuns: 500 },
  );
});

Deno.test("signedTokens() refuses tokens it did not issue: other keys, purposes, garbage, oversize", async () => {
  const token = await tokens.sign("ctx", "payload");
  const otherKey = signedTokens("another server secret of thirty-two characters", "test cursor");
  const otherPurpose = signedTokens("a server secret of at least thirty-two chars", "other");
  assert.equal(await otherKey.open("ctx", token), null);
  assert.equal(await otherPurpose.open("ctx", token), null);
  for (const bad of ["", ".", "payload", "cGF5bG9hZA", "cGF5bG9hZA.", "a.b.c", "x".repeat(5000)]) {
    assert.equal(await tokens.open("ctx", bad), null, bad.slice(0, 20));
  }
});
