import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey, type Json } from "../_support/app.ts";
import { signJwt, sql } from "../_support/stack.ts";

const ENVELOPE_KEYS = ["code", "message", "request_id"];

function assertEnvelope(body: Json, code: string) {
  assert.equal(body.error?.code, code, JSON.stringify(body));
  for (const k of ENVELOPE_KEYS) assert.ok(k in body.error, `envelope has ${k}`);
  assert.match(body.error.message, /^[A-Z]/, "message is sentence case");
}

Deno.test("a valid API key reads its own client through /v1/me", async () => {
  const { call } = await appUnderTest();
  const { clientId, key, keyId } = await clientWithKey({ scopes: ["messages:read"] });
  const res = await call("/v1/me", { headers: bearer(key) });
  assert.equal(res.status, 200);
  assert.equal(res.body.client.id, clientId);
  assert.deepEqual(res.body.credential, {
    kind: "api_key",
    key_id: keyId,
    scopes: ["messages:read"],
  });
});

Deno.test("a wrong, malformed, revoked or expired key gets the 401 envelope", async () => {
  const { call } = await appUnderTest();
  const live = await clientWithKey();
  const revoked = await clientWithKey();
  await sql("update api_keys set revoked_at = now() where id = $1", [revoked.keyId]);
  const expired = await clientWithKey({ expiresAt: new Date(Date.now() - 1000).toISOString() });
  const wrong = live.key.slice(0, -4) + (live.key.endsWith("AAAA") ? "BBBB" : "AAAA");
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ["wrong key", bearer(wrong), /Unknown API key/],
    ["malformed key", bearer("glf_live_short"), /malformed/],
    ["revoked key", bearer(revoked.key), /revoked/],
    ["expired key", bearer(expired.key), /expired/],
    ["no header", {}, /Authorization: Bearer/],
    ["not bearer", { Authorization: `Basic ${btoa("a:b")}` }, /Authorization: Bearer/],
  ];
  for (const [what, headers, message] of cases) {
    const res = await call("/v1/me", {
      headers,
      ip: `203.0.113.${cases.findIndex((c) => c[0] === what)}`,
    });
    assert.equal(res.status, 401, what);
    assertEnvelope(res.body, "unauthorized");
    assert.match(res.body.error.message, message, what);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="glooft-edge"');
  }
});

Deno.test("a suspended client's key stops working", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  await sql("update clients set status = 'suspended' where id = $1", [clientId]);
  const res = await call("/v1/me", { headers: bearer(key) });
  assert.equal(res.status, 401);
  assert.match(res.body.error.message, /suspended/);
});

Deno.test("a key without the route's scope gets 403", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey({ scopes: ["messages:read"] });
  const res = await call("/v1/api-keys", { headers: bearer(key) });
  assert.equal(res.status, 403);
  assertEnvelope(res.body, "forbidden");
  assert.match(res.body.error.message, /api-keys:manage/);
});

Deno.test("repeated bad keys from one address are throttled with 429 and Retry-After", async () => {
  const { call } = await appUnderTest({ AUTH_FAILURES_PER_MINUTE: "3" });
  const good = await clientWithKey();
  const ip = "192.0.2.99";
  for (let i = 0; i < 3; i++) {
    const res = await call("/v1/me", { headers: bearer(`glf_test_${"x".repeat(32)}`), ip });
    assert.equal(res.status, 401);
  }
  const blocked = await call("/v1/me", { headers: bearer(good.key), ip });
  assert.equal(blocked.status, 429);
  assertEnvelope(blocked.body, "too_many_failed_attempts");
  const retry = Number(blocked.headers.get("retry-after"));
  assert.ok(retry > 0 && retry <= 60, `Retry-After is ${retry}`);
  const other = await call("/v1/me", { headers: bearer(good.key), ip: "192.0.2.100" });
  assert.equal(other.status, 200, "another address is not affected");
});

Deno.test("a Supabase Auth user JWT with app_metadata.client_id is accepted with every scope", async () => {
  const { call } = await appUnderTest();
  const { clientId } = await clientWithKey();
  const token = await signJwt({ sub: crypto.randomUUID(), app_metadata: { client_id: clientId } });
  const res = await call("/v1/me", { headers: bearer(token) });
  assert.equal(res.status, 200);
  assert.equal(res.body.client.id, clientId);
  assert.equal(res.body.credential.kind, "user");
});

Deno.test("a user JWT that is expired, forged or names no client is refused", async () => {
  const { call } = await appUnderTest();
  const { clientId } = await clientWithKey();
  const expired = await signJwt({ app_metadata: { client_id: clientId } }, "-1m");
  const noClient = await signJwt({ sub: "x", user_metadata: { client_id: clientId } });
  const good = await signJwt({ app_metadata: { client_id: clientId } });
  const forged = good.slice(0, -3) + (good.endsWith("abc") ? "xyz" : "abc");
  for (
    const [what, token] of [["expired", expired], ["user_metadata only", noClient], [
      "forged",
      forged,
    ]]
  ) {
    const res = await call("/v1/me", { headers: bearer(token), ip: `198.18.0.${what.length}` });
    assert.equal(res.status, 401, what);
  }
});
