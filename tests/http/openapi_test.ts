import assert from "node:assert/strict";
import { SCOPES } from "../../src/core/auth/api_keys.ts";
import { WEBHOOK_EVENT_TYPES } from "../../src/services/client_webhooks.ts";
import { appUnderTest, bearer, clientWithKey, type Json } from "../_support/app.ts";

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];

function operations(doc: Json) {
  const ops: Array<{ where: string; method: string; path: string; op: Json }> = [];
  for (const [section, items] of [["paths", doc.paths], ["webhooks", doc.webhooks]] as const) {
    for (const [path, item] of Object.entries<Json>(items ?? {})) {
      for (const method of METHODS.filter((m) => item[m])) {
        ops.push({ where: section, method, path, op: item[method] });
      }
    }
  }
  return ops;
}

Deno.test("GET /openapi.json names the configured server, a bearer scheme, and on every operation an operationId, a declared tag, its security and the error envelope", async () => {
  const { call } = await appUnderTest({ PUBLIC_BASE_URL: "https://edge.example.net/" });
  const doc = (await call("/openapi.json")).body;
  assert.deepEqual(doc.servers.map((s: Json) => s.url), ["https://edge.example.net"]);
  assert.deepEqual(doc.components.securitySchemes.bearer, {
    type: "http",
    scheme: "bearer",
    description: doc.components.securitySchemes.bearer.description,
  });
  const tags = new Set(doc.tags.map((t: Json) => t.name));
  const ids = new Set<string>();
  for (const { where, method, path, op } of operations(doc)) {
    const what = `${method.toUpperCase()} ${path}`;
    assert.match(op.operationId ?? "", /^[a-z][A-Za-z]+$/, `operationId of ${what}`);
    assert.ok(!ids.has(op.operationId), `unique operationId: ${what}`);
    ids.add(op.operationId);
    assert.ok(op.tags?.length && op.tags.every((t: string) => tags.has(t)), `tags of ${what}`);
    assert.ok(Array.isArray(op.security), `security of ${what}`);
    for (const [status, response] of Object.entries<Json>(op.responses)) {
      // webhooks: the client's answers; /healthz's 503 is its own contract, {"status": …}
      if (Number(status) < 400 || where === "webhooks" || path === "/healthz") continue;
      assert.equal(
        response.content?.["application/json"]?.schema?.$ref,
        "#/components/schemas/Error",
        `${what} ${status} is the error envelope`,
      );
    }
    for (const scope of op.security.flatMap((r: Json) => r.bearer ?? [])) {
      assert.ok(SCOPES.includes(scope), `${what} names a real scope`);
      assert.match(op.description, new RegExp(`\`${scope}\``), `${what} says it needs ${scope}`);
    }
  }
  assert.ok(ids.size >= 27);
  assert.deepEqual(doc.paths["/healthz"].get.security, [], "health needs no credential");

  // without PUBLIC_BASE_URL: relative to where the document is served, whatever the Host header
  const local = await (await appUnderTest()).call("/openapi.json", {
    headers: { host: "attacker.example" },
  });
  assert.deepEqual(local.body.servers.map((s: Json) => s.url), ["/"]);
});

Deno.test("the document's webhooks section has every client event, its body schema and the Standard Webhooks headers", async () => {
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  assert.deepEqual(Object.keys(doc.webhooks).sort(), [...WEBHOOK_EVENT_TYPES].sort());
  for (const [type, item] of Object.entries<Json>(doc.webhooks)) {
    const op = item.post;
    assert.deepEqual(
      op.parameters.filter((p: Json) => p.in === "header" && p.required).map((p: Json) => p.name),
      ["webhook-id", "webhook-timestamp", "webhook-signature"],
    );
    const ref = op.requestBody.content["application/json"].schema.$ref as string;
    const schema = doc.components.schemas[ref.split("/").pop()!];
    assert.deepEqual(schema.properties.type.enum, [type]);
    assert.deepEqual(schema.required, ["type", "timestamp", "data"]);
    assert.ok(schema.properties.data.$ref, `${type} data is a named schema`);
  }
});

Deno.test("every /v1 operation refuses a credential without the scope its document names (403), and one holding only that scope gets past the check", async () => {
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  const fill = (path: string) =>
    path.replace("{id}", path.startsWith("/v1/media") ? "1234" : crypto.randomUUID())
      .replace("{contact}", "+447700900123");
  const keys = new Map<string, { without: string; only: string }>();
  let checked = 0;
  for (const { where, method, path, op } of operations(doc)) {
    const [scope] = op.security.flatMap((r: Json) => r.bearer ?? []);
    if (where !== "paths" || !scope) continue;
    if (!keys.has(scope)) {
      keys.set(scope, {
        without: (await clientWithKey({ scopes: SCOPES.filter((s) => s !== scope) })).key,
        only: (await clientWithKey({ scopes: [scope] })).key,
      });
    }
    const { without, only } = keys.get(scope)!;
    const request = (key: string) =>
      call(fill(path), {
        method: method.toUpperCase(),
        headers: { ...bearer(key), "content-type": "application/json" },
        ...(op.requestBody ? { body: "{}" } : {}),
      });
    const refused = await request(without);
    assert.equal(refused.status, 403, `${method} ${path} without ${scope}`);
    assert.equal(refused.body.error.code, "forbidden");
    const allowed = await request(only);
    assert.notEqual(allowed.status, 403, `${method} ${path} with only ${scope}`);
    checked++;
  }
  assert.ok(checked >= 20, `only ${checked} scoped operations`);
});
