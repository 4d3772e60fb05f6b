import assert from "node:assert/strict";
import fc from "fast-check";
// the reference implementation (standard-webhooks/standard-webhooks), used only as an independent
// check of our signatures
import { Webhook } from "standardwebhooks";
import {
  generateWebhookSecret,
  signStandardWebhook,
  verifyStandardWebhook,
} from "../../../src/core/webhooks/standard_webhooks.ts";

const body = JSON.stringify({ type: "message.received", data: { text: "Olá 👋" } });

const headersFor = (id: string, timestamp: number, signature: string) => ({
  "webhook-id": id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature,
});

Deno.test("generateWebhookSecret() gives whsec_ and 32 random bytes in base64, different every time", () => {
  const a = generateWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(atob(a.slice(6)).length, 32);
  assert.notEqual(a, generateWebhookSecret());
});

Deno.test("signStandardWebhook() output is accepted by the reference standardwebhooks library", async () => {
  const secret = generateWebhookSecret();
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await signStandardWebhook({ secret, id: "evt_1", timestamp, body });
  assert.match(signature, /^v1,[A-Za-z0-9+/]{43}=$/);
  const verified = new Webhook(secret).verify(body, headersFor("evt_1", timestamp, signature));
  assert.deepEqual(verified, JSON.parse(body));
});

Deno.test("our signatures and the reference library's are the same for any id, body and secret", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.stringMatching(/^evt_[A-Za-z0-9]{1,32}$/),
      fc.string({ unit: "grapheme", maxLength: 300 }),
      fc.uint8Array({ minLength: 24, maxLength: 64 }),
      async (id, text, secretBytes) => {
        const secret = `whsec_${btoa(String.fromCharCode(...secretBytes))}`;
        const payload = JSON.stringify({ text });
        const when = new Date();
        const timestamp = Math.floor(when.getTime() / 1000);
        const ours = await signStandardWebhook({ secret, id, timestamp, body: payload });
        assert.equal(ours, new Webhook(secret).sign(id, when, payload));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("verifyStandardWebhook() accepts the reference library's signature among several", async () => {
  const secret = generateWebhookSecret();
  const timestamp = new Date();
  const theirs = new Webhook(secret).sign("evt_2", timestamp, body);
  const headers = new Headers(
    headersFor("evt_2", Math.floor(timestamp.getTime() / 1000), `v1,AAAA v1a,BBBB ${theirs}`),
  );
  assert.deepEqual(await verifyStandardWebhook({ secret, headers, body }), { valid: true });
});

Deno.test("verifyStandardWebhook() rejects a body changed by one byte, another secret, another id and missing headers", async () => {
  const secret = generateWebhookSecret();
  const ts = Math.floor(Date.now() / 1000);
  const sig = await signStandardWebhook({ secret, id: "evt_3", timestamp: ts, body });
  const headers = (id = "evt_3", s = sig) => new Headers(headersFor(id, ts, s));
  assert.deepEqual(await verifyStandardWebhook({ secret, headers: headers(), body: body + " " }), {
    valid: false,
    reason: "mismatch",
  });
  const other = generateWebhookSecret();
  assert.equal(
    (await verifyStandardWebhook({ secret: other, headers: headers(), body })).valid,
    false,
  );
  assert.equal(
    (await verifyStandardWebhook({ secret, headers: headers("evt_4"), body })).valid,
    false,
    "the id is part of what is signed",
  );
  assert.deepEqual(await verifyStandardWebhook({ secret, headers: new Headers(), body }), {
    valid: false,
    reason: "missing",
  });
});

Deno.test("verifyStandardWebhook() rejects timestamps more than five minutes off either way", async () => {
  const secret = generateWebhookSecret();
  const now = Date.now();
  const at = async (offsetS: number) => {
    const timestamp = Math.floor(now / 1000) + offsetS;
    const signature = await signStandardWebhook({ secret, id: "evt_5", timestamp, body });
    return (await verifyStandardWebhook({
      secret,
      headers: new Headers(headersFor("evt_5", timestamp, signature)),
      body,
      now,
    }));
  };
  assert.deepEqual(await at(-301), { valid: false, reason: "stale" });
  assert.deepEqual(await at(301), { valid: false, reason: "stale" });
  assert.deepEqual(await at(-299), { valid: true });
  assert.deepEqual(await at(299), { valid: true });
});

Deno.test("signStandardWebhook() refuses a secret that is not base64", async () => {
  await assert.rejects(
    signStandardWebhook({ secret: "whsec_not base64!", id: "evt_6", timestamp: 1, body }),
    /not whsec_ followed by base64/,
  );
});
