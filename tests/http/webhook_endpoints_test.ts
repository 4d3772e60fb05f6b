import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";

const post = (key: string, body: unknown) => ({
  method: "POST",
  headers: { ...bearer(key), "content-type": "application/json" },
  body: JSON.stringify(body),
});

Deno.test("webhook endpoints: create shows the secret once, list/get never do, patch, rotate, delete", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey();
  const created = await call(
    "/v1/webhook-endpoints",
    post(key, { url: "https://hooks.example.com/wa", event_types: ["message.status"] }),
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { endpoint, secret } = created.body;
  const listed = await call("/v1/webhook-endpoints", { headers: bearer(key) });
  assert.equal(listed.body.data.length, 1);
  assert.ok(!JSON.stringify(listed.body).includes(secret));
  const one = await call(`/v1/webhook-endpoints/${endpoint.id}`, { headers: bearer(key) });
  assert.equal(one.body.endpoint.url, "https://hooks.example.com/wa");
  const patched = await call(`/v1/webhook-endpoints/${endpoint.id}`, {
    method: "PATCH",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ event_types: [], description: "all events" }),
  });
  assert.deepEqual(patched.body.endpoint.event_types, []);
  const rotated = await call(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
    method: "POST",
    headers: bearer(key),
  });
  assert.notEqual(rotated.body.secret, secret);
  const deliveries = await call(`/v1/webhook-endpoints/${endpoint.id}/deliveries`, {
    headers: bearer(key),
  });
  assert.deepEqual(deliveries.body.data, []);
  const deleted = await call(`/v1/webhook-endpoints/${endpoint.id}`, {
    method: "DELETE",
    headers: bearer(key),
  });
  assert.equal(deleted.status, 200);
  assert.equal(
    (await call(`/v1/webhook-endpoints/${endpoint.id}`, { headers: bearer(key) })).status,
    404,
  );
});

Deno.test("webhook endpoints need webhooks:manage, and another client's endpoint is 404", async () => {
  const { call } = await appUnderTest();
  const owner = await clientWithKey();
  const limited = await clientWithKey({ scopes: ["messages:read"] });
  const other = await clientWithKey();
  assert.equal((await call("/v1/webhook-endpoints", { headers: bearer(limited.key) })).status, 403);
  const created = await call(
    "/v1/webhook-endpoints",
    post(owner.key, { url: "https://hooks.example.com/a" }),
  );
  const id = created.body.endpoint.id;
  assert.equal(
    (await call(`/v1/webhook-endpoints/${id}`, { headers: bearer(other.key) })).status,
    404,
  );
  assert.equal(
    (await call(`/v1/webhook-endpoints/${id}`, { method: "DELETE", headers: bearer(other.key) }))
      .status,
    404,
  );
});

Deno.test("in production a private, loopback or plain-http target is refused with 400 invalid_webhook_url", async () => {
  const { call } = await appUnderTest({ ENVIRONMENT: "production" });
  const { key } = await clientWithKey();
  for (
    const url of [
      "http://hooks.example.com/x",
      "https://127.0.0.1/x",
      "https://169.254.169.254/x",
      "https://[::1]/x",
    ]
  ) {
    const res = await call("/v1/webhook-endpoints", post(key, { url }));
    assert.equal(res.status, 400, url);
    assert.equal(res.body.error.code, "invalid_webhook_url");
  }
});
