import assert from "node:assert/strict";
import { optOut } from "../../plugins/opt_out/mod.ts";
import { appUnderTest, bearer, clientWithKey, type Json } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";
import { example } from "../plugins/example/mod.ts";
import { EXAMPLE_ENV } from "../plugins/_registry.ts";

async function api() {
  const { call } = await appUnderTest({}, { plugins: [optOut, example], pluginEnv: EXAMPLE_ENV });
  const { clientId, key } = await clientWithKey({ scopes: ["plugins:manage"] });
  const json = (path: string, method = "GET", body?: unknown) =>
    call(path, {
      method,
      headers: { ...bearer(key), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { clientId, key, call, json };
}

Deno.test("GET /v1/plugins lists every registered plugin with its config as JSON Schema and whether it is on", async () => {
  const { json } = await api();
  const res = await json("/v1/plugins");
  assert.equal(res.status, 200);
  const byId = new Map(res.body.data.map((p: Json) => [p.id, p]));
  assert.deepEqual([...byId.keys()].sort(), ["example-echo", "opt-out"]);
  const opt = byId.get("opt-out") as Json;
  assert.equal(opt.enabled, true, "on by default");
  assert.equal(opt.installed, false);
  assert.deepEqual(opt.events, ["message.received"]);
  assert.equal(opt.config_schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.equal(opt.config_schema.properties.stop_keywords.type, "array");
  assert.equal(opt.config_schema.properties.stop_keywords.items.maxLength, 40);
  const ex = byId.get("example-echo") as Json;
  assert.equal(ex.enabled, false);
  assert.deepEqual(ex.secrets, ["api_token"]);
});

Deno.test("a bad config is a 400 naming each bad field, and nothing is saved", async () => {
  const { json, clientId } = await api();
  const res = await json("/v1/plugins/opt-out", "PUT", {
    config: { stop_keywords: ["ok", ""], confirm: "yes" },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_request");
  const paths = res.body.error.details.map((d: Json) => d.path).sort();
  assert.deepEqual(paths, ["config.confirm", "config.stop_keywords.1"]);
  assert.deepEqual(
    await sql("select 1 from plugin_installations where client_id = $1", [clientId]),
    [],
  );
  const unknownField = await json("/v1/plugins/opt-out", "PUT", { enable: false });
  assert.equal(unknownField.status, 400, "a typo is not silently ignored");
  const unknownPlugin = await json("/v1/plugins/no-such-plugin", "PUT", { enabled: true });
  assert.equal(unknownPlugin.status, 404);
  // the folder's name finds the plugin too: ids are kebab-case, so it cannot name another
  const byFolder = await json("/v1/plugins/opt_out");
  assert.equal(byFolder.status, 200);
  assert.equal(byFolder.body.plugin.id, "opt-out");
});

Deno.test("secrets are write-only: stored encrypted, never in an answer, the audit log or a list; unknown names are refused", async () => {
  const { json, clientId } = await api();
  const shop = `s-${crypto.randomUUID().slice(0, 8)}.example.com`;
  const secret = `token-for-${shop}`;
  const put = await json("/v1/plugins/example-echo", "PUT", {
    config: { shop },
    secrets: { api_token: secret },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body.installation.secrets, { api_token: true });
  const answers = [
    put,
    await json("/v1/plugins/example-echo"),
    await json("/v1/plugins"),
  ];
  for (const res of answers) assert.ok(!JSON.stringify(res.body).includes(secret));
  const [row] = await sql<{ secrets_ciphertext: string }>(
    "select secrets_ciphertext from plugin_installations where client_id = $1",
    [clientId],
  );
  assert.ok(row.secrets_ciphertext && !row.secrets_ciphertext.includes(secret));
  const audit = await sql<{ action: string; details: Json }>(
    "select action, details from audit_log where client_id = $1 and target_type = 'plugin'",
    [clientId],
  );
  assert.equal(audit.length, 1);
  assert.equal(audit[0].action, "plugin.installed");
  assert.deepEqual(audit[0].details.secrets_changed, ["api_token"]);
  assert.ok(!JSON.stringify(audit).includes(secret));

  const unknown = await json("/v1/plugins/example-echo", "PUT", { secrets: { password: "x" } });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.details[0].path, "secrets.password");

  // null removes a secret; the config in force stays
  const removed = await json("/v1/plugins/example-echo", "PUT", { secrets: { api_token: null } });
  assert.equal(removed.status, 200);
  assert.deepEqual(removed.body.installation.secrets, { api_token: false });
  assert.equal(removed.body.installation.config.shop, shop);
});

Deno.test("a routing key is claimed only after the plugin verified it, and only once across clients", async () => {
  const a = await api();
  const b = await api();
  const shop = `s-${crypto.randomUUID().slice(0, 8)}.example.com`;
  const claim = (who: typeof a, token: string) =>
    who.json("/v1/plugins/example-echo", "PUT", {
      config: { shop },
      secrets: { api_token: token },
    });
  const refused = await claim(a, "not-the-token");
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.code, "plugin_verification_failed");
  assert.match(refused.body.error.message, /the API token is not this shop's/);

  assert.equal((await claim(a, `token-for-${shop}`)).status, 200);
  const taken = await claim(b, `token-for-${shop}`);
  assert.equal(taken.status, 409);
  assert.equal(taken.body.error.code, "plugin_routing_key_taken");
  const [{ n }] = await sql<{ n: number }>(
    "select count(*)::int as n from plugin_installations where routing_key = $1",
    [shop],
  );
  assert.equal(n, 1);
});

Deno.test("turning a plugin off and removing its installation are audited; a plugin on by default is on again after removal", async () => {
  const { json, clientId } = await api();
  const off = await json("/v1/plugins/opt-out", "PUT", { enabled: false });
  assert.equal(off.status, 200);
  assert.equal(off.body.installation.enabled, false);
  assert.equal(off.body.installation.installed, true);
  const removed = await json("/v1/plugins/opt-out", "DELETE");
  assert.equal(removed.status, 200);
  assert.equal(removed.body.installation.installed, false);
  assert.equal(removed.body.installation.enabled, true);
  const actions = await sql<{ action: string }>(
    "select action from audit_log where client_id = $1 and target_type = 'plugin' order by id",
    [clientId],
  );
  assert.deepEqual(actions.map((a) => a.action), ["plugin.installed", "plugin.removed"]);
});

Deno.test("the plugin routes need the plugins:manage scope", async () => {
  const { call } = await api();
  const { key } = await clientWithKey({ scopes: ["messages:read"] });
  const res = await call("/v1/plugins", { headers: bearer(key) });
  assert.equal(res.status, 403);
});
