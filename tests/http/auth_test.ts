import { FailureThrottle, MAX_THROTTLED_ADDRESSES } from "../../src/http/middleware/auth.ts";
import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey, type Json } from "../_support/app.ts";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { signJwt, sql, testStack } from "../_support/stack.ts";

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

/** A user token as Supabase Auth issues one, with its times given in seconds from now. */
async function userToken(
  clientId: string,
  times: { iat?: number | null; exp?: number | null; nbf?: number },
  sign: (jwt: SignJWT) => Promise<string> = (jwt) =>
    jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(testStack().secrets.jwt_secret)),
) {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    role: "authenticated",
    sub: crypto.randomUUID(),
    app_metadata: { client_id: clientId },
  };
  for (const claim of ["iat", "exp", "nbf"] as const) {
    const offset = times[claim] === undefined
      ? { iat: 0, exp: 3600 }[claim as "iat"]
      : times[claim];
    if (offset !== undefined && offset !== null) claims[claim] = now + offset;
  }
  return await sign(new SignJWT(claims));
}

let ipCounter = 0;
const freshIp = () => `198.19.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

Deno.test("a user token must carry exp and iat, live at most the configured lifetime, and be valid now", async () => {
  const { call } = await appUnderTest();
  const { clientId } = await clientWithKey();
  const refused: Array<[string, { iat?: number | null; exp?: number | null; nbf?: number }]> = [
    ["without exp (it would work forever)", { exp: null }],
    ["without iat", { iat: null }],
    ["issued to live 2 hours", { iat: 0, exp: 7200 }],
    ["issued for 10 years", { iat: -60, exp: 10 * 365 * 86400 }],
    ["issued 5 minutes in the future", { iat: 300, exp: 3600 }],
    ["not valid for another 5 minutes", { nbf: 300 }],
    ["expired a minute ago", { iat: -3000, exp: -60 }],
  ];
  for (const [what, times] of refused) {
    const res = await call("/v1/me", {
      headers: bearer(await userToken(clientId, times)),
      ip: freshIp(),
    });
    assert.equal(res.status, 401, what);
    assertEnvelope(res.body, "unauthorized");
  }
  // clocks disagree a little: a few seconds of skew either way is tolerated
  for (
    const [what, times] of [
      ["issued for exactly the lifetime", { iat: 0, exp: 3600 }],
      ["issued 10 s in the future", { iat: 10, exp: 3610 }],
      ["valid from 10 s from now", { nbf: 10 }],
    ] as const
  ) {
    const res = await call("/v1/me", {
      headers: bearer(await userToken(clientId, times)),
      ip: freshIp(),
    });
    assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
  }
});

Deno.test("USER_JWT_MAX_AGE_SECONDS sets the longest user token accepted", async () => {
  const { call } = await appUnderTest({ USER_JWT_MAX_AGE_SECONDS: "7200" });
  const { clientId } = await clientWithKey();
  const twoHours = await userToken(clientId, { iat: 0, exp: 7200 });
  assert.equal((await call("/v1/me", { headers: bearer(twoHours), ip: freshIp() })).status, 200);
  const longer = await userToken(clientId, { iat: 0, exp: 7300 });
  assert.equal((await call("/v1/me", { headers: bearer(longer), ip: freshIp() })).status, 401);
});

Deno.test("tokens verified with the project's JWKS obey the same exp, iat and lifetime rules", async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const kid = "test-key";
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json(jwks),
  );
  try {
    const { call } = await appUnderTest({
      SUPABASE_JWKS_URL: `http://127.0.0.1:${server.addr.port}/auth/v1/.well-known/jwks.json`,
    });
    const { clientId } = await clientWithKey();
    const es256 = (jwt: SignJWT) => jwt.setProtectedHeader({ alg: "ES256", kid }).sign(privateKey);
    const good = await userToken(clientId, {}, es256);
    assert.equal((await call("/v1/me", { headers: bearer(good), ip: freshIp() })).status, 200);
    for (
      const [what, times] of [
        ["without exp", { exp: null }],
        ["issued to live 2 hours", { iat: 0, exp: 7200 }],
        ["issued in the future", { iat: 300, exp: 3900 }],
      ] as const
    ) {
      const token = await userToken(clientId, times, es256);
      const res = await call("/v1/me", { headers: bearer(token), ip: freshIp() });
      assert.equal(res.status, 401, what);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("an oversize or malformed Authorization header gets the 401 envelope before any verification", async () => {
  const { call } = await appUnderTest({ AUTH_FAILURES_PER_MINUTE: "1000" });
  const { key } = await clientWithKey();
  const oversize = await call("/v1/me", { headers: bearer("x".repeat(9000)), ip: freshIp() });
  assert.equal(oversize.status, 401);
  assertEnvelope(oversize.body, "unauthorized");
  assert.match(oversize.body.error.message, /longer than 8192 characters/);
  const malformed = [
    "Bearer",
    "Bearer ",
    `Bearer ${key} extra`,
    `Bearer ${key},${key}`,
    'Bearer {"alg":"none"}',
    "Bearer a\u00ffb",
    `Token ${key}`,
    `Bearer=${key}`,
  ];
  for (const header of malformed) {
    const res = await call("/v1/me", { headers: { Authorization: header }, ip: freshIp() });
    assert.equal(res.status, 401, header);
    assertEnvelope(res.body, "unauthorized");
  }
});

Deno.test("over a real server, every Authorization header the runtime lets through gets the envelope", async () => {
  const { app } = await appUnderTest({ AUTH_FAILURES_PER_MINUTE: "1000" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => app.fetch(req, { remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname }),
  );
  try {
    // Deno's HTTP server itself refuses request heads over 64 KiB (400, empty body) before any
    // JavaScript runs; everything below that is ours to answer
    for (const size of [8193, 16_000, 40_000, 60_000]) {
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/v1/me`, {
        headers: { Authorization: `Bearer ${"x".repeat(size)}` },
      });
      assert.equal(res.status, 401, `${size}`);
      assertEnvelope(await res.json(), "unauthorized");
    }
    // bytes 0x80-0xff are legal in a header but form no token
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(
      Uint8Array.from(
        "GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x80\r\nConnection: close\r\n\r\n",
        (ch) => ch.charCodeAt(0),
      ),
    );
    let raw = "";
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf)) !== null;) {
      raw += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assert.match(raw, /^HTTP\/1\.1 401/);
    assertEnvelope(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)), "unauthorized");
  } finally {
    await server.shutdown();
  }
});

Deno.test("the failure throttle stays bounded by evicting expired windows first, so a flood of new addresses does not lift a throttle still running", () => {
  let now = 0;
  const throttle = new FailureThrottle(3, () => now);
  for (let i = 0; i < MAX_THROTTLED_ADDRESSES - 1; i++) throttle.fail(`old-${i}`);
  now = 30_000;
  for (let i = 0; i < 3; i++) throttle.fail("guesser");
  assert.ok(throttle.retryAfter("guesser"), "throttled after 3 failures");
  // a minute after the old windows began, a flood of new addresses fills the map again (past its
  // bound: the old windows must go); more live windows than the bound would evict the oldest
  now = 61_000;
  for (let i = 0; i < MAX_THROTTLED_ADDRESSES - 2; i++) throttle.fail(`new-${i}`);
  assert.ok(throttle.retryAfter("guesser"), "still throttled: only expired windows went");
});
