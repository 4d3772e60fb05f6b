import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";

Deno.test("a client creates a key through /v1/api-keys, sees it listed without the secret, and revokes it", async () => {
  const { call } = await appUnderTest();
  const admin = await clientWithKey();
  const created = await call("/v1/api-keys", {
    method: "POST",
    headers: { ...bearer(admin.key), "content-type": "application/json" },
    body: JSON.stringify({ name: "Shop backend", scopes: ["messages:send"], environment: "live" }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { key, api_key } = created.body;
  assert.match(key, /^glf_live_[0-9A-Za-z]{32}$/);
  assert.equal(key.startsWith(api_key.prefix), true);

  const stored = await sql<{ key_hash: string }>("select key_hash from api_keys where id = $1", [
    api_key.id,
  ]);
  assert.notEqual(stored[0].key_hash, key, "only a hash is stored");
  assert.ok(
    !JSON.stringify(await sql("select * from api_keys where id = $1", [api_key.id])).includes(key),
  );

  const listed = await call("/v1/api-keys", { headers: bearer(admin.key) });
  assert.equal(listed.status, 200);
  assert.ok(listed.body.data.some((k: { id: string }) => k.id === api_key.id));
  assert.ok(!JSON.stringify(listed.body).includes(key), "listing never shows a key");

  assert.equal((await call("/v1/me", { headers: bearer(key) })).status, 200);
  const revoked = await call(`/v1/api-keys/${api_key.id}`, {
    method: "DELETE",
    headers: bearer(admin.key),
  });
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.api_key.revoked_at);
  assert.equal((await call("/v1/me", { headers: bearer(key), ip: "198.51.100.50" })).status, 401);

  const audit = await sql<{ action: string }>(
    "select action from audit_log where client_id = $1 order by id",
    [admin.clientId],
  );
  assert.deepEqual(audit.map((a) => a.action), ["api_key.created", "api_key.revoked"]);
});

Deno.test("a key cannot create a key with scopes it does not hold", async () => {
  const { call } = await appUnderTest();
  const limited = await clientWithKey({ scopes: ["api-keys:manage", "messages:read"] });
  const res = await call("/v1/api-keys", {
    method: "POST",
    headers: { ...bearer(limited.key), "content-type": "application/json" },
    body: JSON.stringify({ name: "escalate", scopes: ["messages:send"] }),
  });
  assert.equal(res.status, 403);
  assert.match(res.body.error.message, /messages:send/);
});

Deno.test("a client cannot revoke another client's key", async () => {
  const { call } = await appUnderTest();
  const a = await clientWithKey();
  const b = await clientWithKey();
  const res = await call(`/v1/api-keys/${b.keyId}`, { method: "DELETE", headers: bearer(a.key) });
  assert.equal(res.status, 404);
  const [row] = await sql<{ revoked_at: string | null }>(
    "select revoked_at from api_keys where id = $1",
    [b.keyId],
  );
  assert.equal(row.revoked_at, null);
});

Deno.test("an invalid body gets a 400 envelope naming the bad fields", async () => {
  const { call } = await appUnderTest();
  const admin = await clientWithKey();
  const res = await call("/v1/api-keys", {
    method: "POST",
    headers: { ...bearer(admin.key), "content-type": "application/json" },
    body: JSON.stringify({ name: "", scopes: ["everything"] }),
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_request");
  const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
  assert.deepEqual(paths, ["name", "scopes.0"]);
});
