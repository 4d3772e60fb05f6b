import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import {
  generateWebhookSecret,
  signStandardWebhook,
  verifyStandardWebhook,
} from "../../../src/core/webhooks/standard_webhooks.ts";

const body = JSON.stringify({ type: "message.received", data: { text: "Olá 👋" } });

Deno.test("signStandardWebhook() output is accepted by the reference standardwebhooks library", async () => {
  const secret = generateWebhookSecret();
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await signStandardWebhook({ secret, id: "evt_1", timestamp, body });
  const verified = new Webhook(secret).verify(body, {
    "webhook-id": "evt_1",
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  });
  assert.deepEqual(verified, JSON.parse(body));
});

Deno.test("verifyStandardWebhook() accepts the reference library's signature and any of several", async () => {
  const secret = generateWebhookSecret();
  const timestamp = new Date();
  const theirs = new Webhook(secret).sign("evt_2", timestamp, body);
  const headers = new Headers({
    "webhook-id": "evt_2",
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": `v1,AAAA ${theirs}`,
  });
  assert.deepEqual(await verifyStandardWebhook({ secret, headers, body }), { valid: true });
});

Deno.test("verifyStandardWebhook() rejects a changed body, another secret, a stale timestamp and missing headers", async () => {
  const secret = generateWebhookSecret();
  const ts = Math.floor(Date.now() / 1000);
  const sig = await signStandardWebhook({ secret, id: "evt_3", timestamp: ts, body });
  const headers = (t = ts, s = sig) =>
    new Headers({ "webhook-id": "evt_3", "webhook-timestamp": String(t), "webhook-signature": s });
  assert.equal(
    (await verifyStandardWebhook({ secret, headers: headers(), body: body + " " })).valid,
    false,
  );
  assert.equal(
    (await verifyStandardWebhook({ secret: generateWebhookSecret(), headers: headers(), body }))
      .valid,
    false,
  );
  assert.deepEqual(await verifyStandardWebhook({ secret, headers: headers(ts - 3600), body }), {
    valid: false,
    reason: "stale",
  });
  assert.deepEqual(await verifyStandardWebhook({ secret, headers: new Headers(), body }), {
    valid: false,
    reason: "missing",
  });
});
