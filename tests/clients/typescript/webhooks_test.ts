import assert from "node:assert/strict";
import fc from "fast-check";
// the reference implementation (standard-webhooks/standard-webhooks): an independent signer
import { Webhook } from "standardwebhooks";
import {
  verifyWebhook,
  type WebhookVerificationError,
} from "../../../clients/typescript/src/mod.ts";
import {
  generateWebhookSecret,
  signStandardWebhook,
} from "../../../src/core/webhooks/standard_webhooks.ts";

const body = JSON.stringify({
  type: "webhook.test",
  timestamp: "2026-12-01T08:00:00.000Z",
  data: { endpoint_id: "5b0d8a4e-3f0c-4c7a-9d3e-2f6f4b1a0c11", note: "Olá 👋" },
});
const now = () => Math.floor(Date.now() / 1000);

async function signed(secret: string, options: { id?: string; at?: number; text?: string } = {}) {
  const id = options.id ?? "evt_1";
  const timestamp = options.at ?? now();
  const text = options.text ?? body;
  const signature = await signStandardWebhook({ secret, id, timestamp, body: text });
  return {
    body: text,
    headers: new Headers({
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    }),
  };
}

const reason = (p: Promise<unknown>) =>
  p.then(() => "accepted", (e: WebhookVerificationError) => e.reason);

Deno.test("verifyWebhook() returns the typed event of a body the server's signer signed", async () => {
  const secret = generateWebhookSecret();
  const event = await verifyWebhook(await signed(secret), { secret });
  assert.equal(event.type, "webhook.test");
  if (event.type === "webhook.test") {
    assert.equal(event.data.endpoint_id, "5b0d8a4e-3f0c-4c7a-9d3e-2f6f4b1a0c11");
  }
});

Deno.test("verifyWebhook() accepts what the reference standardwebhooks library signs, from a Request and from Node-style headers", async () => {
  const secret = generateWebhookSecret();
  const at = new Date();
  const signature = new Webhook(secret).sign("evt_ref", at, body);
  const headers = {
    "webhook-id": "evt_ref",
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signature,
  };
  const request = new Request("https://shop.example/hooks", { method: "POST", headers, body });
  assert.equal((await verifyWebhook(request, { secret })).type, "webhook.test");
  // Node's IncomingHttpHeaders may give a repeated header as an array
  const node = { ...headers, "webhook-signature": ["v1,AAAA", signature], "x-other": undefined };
  const bytes = new TextEncoder().encode(body);
  assert.equal(
    (await verifyWebhook({ body: bytes, headers: node }, { secret })).type,
    "webhook.test",
  );
});

Deno.test("verifyWebhook() refuses any change to the body, id or timestamp, another secret, and a v2 signature", async () => {
  const secret = generateWebhookSecret();
  const good = await signed(secret);
  const changed = (name: string, value: string) => {
    const headers = new Headers(good.headers);
    headers.set(name, value);
    return { body: good.body, headers };
  };
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 127 }), (i, d) => {
      const bytes = new TextEncoder().encode(body);
      bytes[i] ^= d;
      return reason(verifyWebhook({ body: bytes, headers: good.headers }, { secret })).then((r) =>
        assert.equal(r, "invalid_signature")
      );
    }),
    { numRuns: 50 },
  );
  assert.equal(
    await reason(verifyWebhook(changed("webhook-id", "evt_2"), { secret })),
    "invalid_signature",
  );
  const ts = String(Number(good.headers.get("webhook-timestamp")) + 1);
  assert.equal(
    await reason(verifyWebhook(changed("webhook-timestamp", ts), { secret })),
    "invalid_signature",
  );
  assert.equal(
    await reason(verifyWebhook(good, { secret: generateWebhookSecret() })),
    "invalid_signature",
  );
  const v2 = good.headers.get("webhook-signature")!.replace(/^v1,/, "v2,");
  assert.equal(
    await reason(verifyWebhook(changed("webhook-signature", v2), { secret })),
    "invalid_signature",
  );
});

Deno.test("verifyWebhook() accepts one good signature among several (a secret being rotated)", async () => {
  const secret = generateWebhookSecret();
  const good = await signed(secret);
  const other = await signed(generateWebhookSecret());
  good.headers.set(
    "webhook-signature",
    `${other.headers.get("webhook-signature")} v1,bm90IGEgbWFj ${
      good.headers.get("webhook-signature")
    }`,
  );
  assert.equal(await reason(verifyWebhook(good, { secret })), "accepted");
});

Deno.test("verifyWebhook() refuses a timestamp beyond the tolerance either way, a malformed one, missing headers and a bad secret", async () => {
  const secret = generateWebhookSecret();
  assert.equal(
    await reason(verifyWebhook(await signed(secret, { at: now() - 301 }), { secret })),
    "stale_timestamp",
  );
  assert.equal(
    await reason(verifyWebhook(await signed(secret, { at: now() + 301 }), { secret })),
    "stale_timestamp",
  );
  assert.equal(
    await reason(
      verifyWebhook(await signed(secret, { at: now() - 3600 }), { secret, toleranceSeconds: 7200 }),
    ),
    "accepted",
  );
  const good = await signed(secret);
  const without = new Headers(good.headers);
  without.delete("webhook-signature");
  assert.equal(
    await reason(verifyWebhook({ body, headers: without }, { secret })),
    "missing_headers",
  );
  const malformed = new Headers(good.headers);
  malformed.set("webhook-timestamp", "1e9");
  assert.equal(
    await reason(verifyWebhook({ body, headers: malformed }, { secret })),
    "invalid_timestamp",
  );
  assert.equal(await reason(verifyWebhook(good, { secret: "whsec_!!!" })), "invalid_secret");
});

Deno.test("verifyWebhook() refuses a signed body that is not JSON", async () => {
  const secret = generateWebhookSecret();
  assert.equal(
    await reason(verifyWebhook(await signed(secret, { text: "not json" }), { secret })),
    "invalid_body",
  );
});
