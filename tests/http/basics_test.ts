import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";

Deno.test("/healthz answers 200 when the database answers", async () => {
  const { call } = await appUnderTest();
  const res = await call("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: "ok" });
});

Deno.test("/healthz answers 503 when the database does not", async () => {
  const { call } = await appUnderTest({ SUPABASE_URL: "http://127.0.0.1:9" });
  const res = await call("/healthz");
  assert.equal(res.status, 503);
  assert.deepEqual(res.body, { status: "unavailable" });
});

Deno.test("every response carries a request id and (but on provider webhooks) security headers; a good incoming id is kept", async () => {
  const { call } = await appUnderTest();
  const fresh = await call("/healthz");
  assert.match(fresh.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(fresh.headers.get("x-content-type-options"), "nosniff");
  assert.ok(fresh.headers.get("strict-transport-security"));
  const kept = await call("/healthz", { headers: { "x-request-id": "trace-1234abcd" } });
  assert.equal(kept.headers.get("x-request-id"), "trace-1234abcd");
  const replaced = await call("/healthz", { headers: { "x-request-id": "bad id with spaces" } });
  assert.notEqual(replaced.headers.get("x-request-id"), "bad id with spaces");
});

Deno.test("an unknown route gets the 404 envelope with the request id", async () => {
  const { call } = await appUnderTest();
  const res = await call("/no-such-route", { headers: { "x-request-id": "req-404-check" } });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, "not_found");
  assert.equal(res.body.error.request_id, "req-404-check");
});

Deno.test("a body over the limit is refused with 413 before it is read whole", async () => {
  const { call } = await appUnderTest({ MAX_BODY_BYTES: "2048" });
  const { key } = await clientWithKey();
  const res = await call("/v1/api-keys", {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ name: "x".repeat(4096), scopes: ["messages:read"] }),
  });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, "payload_too_large");
});

Deno.test("each API request's metadata lands in the request log, without credentials or bodies", async () => {
  const { call, deps } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  await call("/v1/me", {
    headers: { ...bearer(key), "user-agent": "glooft-test/1.0", "x-request-id": "req-log-check-1" },
    ip: "198.51.100.23",
  });
  await (deps.requestLog as { flush(): Promise<void> }).flush();
  const rows = await sql<Record<string, unknown>>(
    "select client_id, method, route, status, host(ip) as ip, user_agent, latency_ms from api_request_log where request_id = $1",
    ["req-log-check-1"],
  );
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.equal(row.client_id, clientId);
  assert.deepEqual([row.method, row.route, row.status, row.ip, row.user_agent], [
    "GET",
    "/v1/me",
    200,
    "198.51.100.23",
    "glooft-test/1.0",
  ]);
  assert.ok(Number(row.latency_ms) >= 0);
  assert.ok(!JSON.stringify(rows).includes(key));
});

Deno.test("the OpenAPI document is generated from the routes", async () => {
  const { call } = await appUnderTest();
  const doc = await call("/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.1.0");
  for (const path of ["/healthz", "/v1/me", "/v1/api-keys", "/v1/api-keys/{id}"]) {
    assert.ok(doc.body.paths[path], `documents ${path}`);
  }
  assert.ok(doc.body.components.schemas.Error);
});

Deno.test("logs are JSON lines that never contain the API key", async () => {
  const lines: string[] = [];
  const { jsonLogger } = await import("../../src/adapters/logging/json_logger.ts");
  const logger = jsonLogger({ level: "debug", write: (l) => lines.push(l) });
  logger.info("event", { api_key: "glf_test_secret", token: "t", route: "/v1/me" });
  const rec = JSON.parse(lines[0]);
  assert.equal(rec.api_key, "[redacted]");
  assert.equal(rec.token, "[redacted]");
  assert.equal(rec.route, "/v1/me");
});
