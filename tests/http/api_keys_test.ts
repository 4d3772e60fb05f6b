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

Deno.test("a key cannot be created already expired, nor with an expiry centuries away", async () => {
  const { call } = await appUnderTest();
  const admin = await clientWithKey();
  const create = (expires_at: string) =>
    call("/v1/api-keys", {
      method: "POST",
      headers: { ...bearer(admin.key), "content-type": "application/json" },
      body: JSON.stringify({ name: "Expiring", scopes: ["messages:read"], expires_at }),
    });
  const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
  const refused: Array<[string, string, RegExp]> = [
    ["a second ago", inMs(-1000), /already expired/],
    ["in the year 2000", "2000-01-01T00:00:00Z", /already expired/],
    ["in 10 seconds", inMs(10_000), /at least a minute/],
    ["in the year 9999", "9999-12-31T23:59:59Z", /within 5 years/],
    ["in 6 years", inMs(6 * 366 * 86_400_000), /within 5 years/],
    ["with an offset PostgreSQL refuses", "2027-06-01T00:00:00+23:00", /offset/],
  ];
  for (const [what, expiresAt, message] of refused) {
    const res = await create(expiresAt);
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "invalid_request", what);
    assert.match(JSON.stringify(res.body.error), message, what);
    assert.equal(res.body.error.details[0].path, "expires_at", what);
  }
  const [{ n }] = await sql<{ n: number }>(
    "select count(*)::int as n from api_keys where client_id = $1 and name = 'Expiring'",
    [admin.clientId],
  );
  assert.equal(n, 0, "no refused key was stored");

  const inADay = await create(inMs(86_400_000));
  assert.equal(inADay.status, 201, JSON.stringify(inADay.body));
  assert.equal(Date.parse(inADay.body.api_key.expires_at) > Date.now(), true);
  assert.equal((await call("/v1/me", { headers: bearer(inADay.body.key) })).status, 200);
});

Deno.test("key names are one trimmed line PostgreSQL can store, and scopes are bounded", async () => {
  const { call } = await appUnderTest();
  const admin = await clientWithKey();
  const create = (body: unknown) =>
    call("/v1/api-keys", {
      method: "POST",
      headers: { ...bearer(admin.key), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  for (
    const name of [
      "   ",
      "a\u0000b",
      "line\nbreak",
      "tab\there",
      "evil\u202egnp.exe",
      "x\ud800",
      "é".repeat(101),
    ]
  ) {
    const res = await create({ name, scopes: ["messages:read"] });
    assert.equal(res.status, 400, `${JSON.stringify(name)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "invalid_request");
    assert.equal(res.body.error.details[0].path, "name");
  }
  const many = await create({ name: "many", scopes: Array(1000).fill("messages:read") });
  assert.equal(many.status, 400);
  const trimmed = await create({ name: "  Shop backend 👩‍💻 ", scopes: ["messages:read"] });
  assert.equal(trimmed.status, 201, JSON.stringify(trimmed.body));
  assert.equal(trimmed.body.api_key.name, "Shop backend 👩‍💻");
});
