import assert from "node:assert/strict";
import * as z from "zod";
import { definePlugin, type PluginContext } from "../../src/plugin_api/mod.ts";
import { pluginContext } from "../../src/services/plugins/context.ts";
import { pluginRegistry, PluginRegistryError } from "../../src/services/plugins/registry.ts";
import { appUnderTest } from "../_support/app.ts";
import { createTestClient, sql } from "../_support/stack.ts";

/**
 * The capabilities a plugin's context has beyond sending and consent (docs/plugins.md): the
 * journal, the vault, the signer, privacy requests, saving its own config, settings it reads when
 * set, and a page that says who may frame it. Each through the real app and database.
 */

const upstream = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  () => new Response("upstream"),
);
const UPSTREAM_URL = `http://127.0.0.1:${upstream.addr.port}`;

const probe = definePlugin({
  id: "capability-probe",
  version: "1.0.0",
  name: "Capability probe",
  config: z.object({
    label: z.string().max(20).default("x"),
    shop: z.string().optional(),
  }),
  env: ["PROBE_SECRET"],
  optionalEnv: ["PROBE_UPSTREAM_URL", "PROBE_PREVIOUS_SECRET"],
  upstreamsFromEnv: ["PROBE_UPSTREAM_URL"],
  upstreams: ["api.probe.example"],
  routingKey: { fromConfig: (c) => c.shop ?? null },
  webhooks: {
    verify: (request) =>
      Promise.resolve({
        valid: true,
        dedupeKey: crypto.randomUUID(),
        routingKey: request.headers.get("x-probe-shop") ?? "",
      }),
    handle: () => Promise.resolve(),
  },
  routes: [
    {
      method: "GET",
      path: "/embedded",
      handler: () =>
        Promise.resolve(
          new Response("<p>embedded</p>", {
            headers: {
              "content-type": "text/html",
              "content-security-policy":
                "default-src 'self'; frame-ancestors https://shop.example https://admin.example",
            },
          }),
        ),
    },
    {
      method: "GET",
      path: "/plain",
      handler: () =>
        Promise.resolve(new Response("<p>plain</p>", { headers: { "content-type": "text/html" } })),
    },
  ],
});

const ENV = { PROBE_SECRET: "probe-secret", PROBE_UPSTREAM_URL: UPSTREAM_URL };

async function setUp() {
  const { app, deps } = await appUnderTest({}, { plugins: [probe], pluginEnv: ENV });
  const hostDeps = deps.plugins.deps;
  const context = (clientId: string, config: unknown = { label: "x" }) =>
    pluginContext(hostDeps, probe, clientId, {
      config,
      secrets: {},
      signal: new AbortController().signal,
      sendKey: `test:${crypto.randomUUID()}`,
    }) as PluginContext<{ label: string; shop?: string }>;
  return { app, hostDeps, context };
}

Deno.test("ctx.journal.claim() is a durable dedupe: of ten concurrent claims of one key exactly one creates the entry, the rest find it", async () => {
  const { context } = await setUp();
  const ctx = context(await createTestClient("Journal claims"));
  const claims = await Promise.all(
    Array.from({ length: 10 }, () =>
      ctx.journal.claim("order:1001:confirmation", {
        kind: "order_confirmation",
        subject: "#1001",
        recipient: "+91 98470 12345",
        data: { order_id: 1001 },
      })),
  );
  assert.equal(claims.filter((c) => c.created).length, 1);
  for (const c of claims) {
    assert.equal(c.entry.outcome, "pending");
    assert.equal(c.entry.recipient, "919847012345", "the number is kept as digits");
  }
  await ctx.journal.settle("order:1001:confirmation", {
    outcome: "suppressed",
    reason: "no_consent",
  });
  const again = await ctx.journal.claim("order:1001:confirmation", { kind: "order_confirmation" });
  assert.equal(again.created, false);
  assert.equal(again.entry.outcome, "suppressed");
  assert.equal(again.entry.reason, "no_consent");
  await assert.rejects(
    () => ctx.journal.settle("order:1001:confirmation", { outcome: "suppressed", reason: "No!" }),
    /snake_case/,
  );
});

Deno.test("ctx.journal lists entries with their message's status and counts 30 days by outcome, status and reason", async () => {
  const { context } = await setUp();
  const clientId = await createTestClient("Journal listing");
  const ctx = context(clientId);
  const [waba] = await sql<{ id: string }>(
    "insert into whatsapp_business_accounts (client_id, waba_id) values ($1, $2) returning id",
    [clientId, String(Date.now())],
  );
  const [phone] = await sql<{ id: string }>(
    "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '1555') returning id",
    [clientId, waba.id, String(Date.now() + 1)],
  );
  const message = async (status: string) =>
    (await sql<{ id: string }>(
      "insert into messages (client_id, phone_number_id, direction, type, status) values ($1, $2, 'outbound', 'template', $3) returning id",
      [clientId, phone.id, status],
    ))[0].id;
  const sent = [["a", "read"], ["b", "delivered"], ["c", "sent"], ["d", "failed"]];
  for (const [key, status] of sent) {
    await ctx.journal.claim(key, { kind: "shipping_update", subject: `#${key}` });
    await ctx.journal.settle(key, { outcome: "sent", messageId: await message(status) });
  }
  for (const [key, reason] of [["e", "no_consent"], ["f", "no_consent"], ["g", "opted_out"]]) {
    await ctx.journal.claim(key, { kind: "order_confirmation" });
    await ctx.journal.settle(key, { outcome: "suppressed", reason });
  }
  await ctx.journal.claim("tagged", { kind: "cod_answer" });
  await ctx.journal.settle("tagged", { outcome: "done" });

  const recent = await ctx.journal.recent({ kinds: ["shipping_update"] });
  assert.deepEqual(
    recent.map((e) => [e.key, e.outcome, e.messageStatus]).sort(),
    [["a", "sent", "read"], ["b", "sent", "delivered"], ["c", "sent", "sent"], [
      "d",
      "sent",
      "failed",
    ]],
  );
  const days = await ctx.journal.summary({ days: 30 });
  assert.equal(days.length, 30, "every day of the window, empty ones too");
  const today = days.at(-1)!;
  assert.equal(today.day, new Date().toISOString().slice(0, 10));
  assert.deepEqual(
    { ...today, day: undefined },
    {
      day: undefined,
      sent: 4,
      delivered: 2,
      read: 1,
      failed: 1,
      suppressed: { no_consent: 2, opted_out: 1 },
    },
  );
  assert.ok(days.slice(0, -1).every((d) => d.sent === 0), "nothing on earlier days");
});

Deno.test("ctx.journal.advance() only moves a version forward, and forget() erases the entries about a number", async () => {
  const { context } = await setUp();
  const ctx = context(await createTestClient("Journal versions"));
  assert.equal(await ctx.journal.advance("fulfillment:9", 200), 200);
  assert.equal(await ctx.journal.advance("fulfillment:9", 100), 200, "an older version is stale");
  assert.equal(await ctx.journal.advance("fulfillment:9", 200), 200, "the same version is current");
  assert.equal(await ctx.journal.advance("fulfillment:9", 300), 300);
  await ctx.journal.claim("k1", { kind: "refund", recipient: "+447700900001" });
  await ctx.journal.claim("k2", { kind: "refund", recipient: "+447700900002" });
  assert.equal(await ctx.journal.forget(["447700900001"]), 1);
  assert.equal(await ctx.journal.get("k1"), null);
  assert.ok(await ctx.journal.get("k2"));
  assert.equal(await ctx.journal.forget("all"), 2, "k2 and the version marker");
});

Deno.test("ctx.vault keeps a secret encrypted at rest under the client's key: the row holds no plain text and another client's context cannot open it", async () => {
  const { context } = await setUp();
  const [a, b] = [await createTestClient("Vault A"), await createTestClient("Vault B")];
  const ctx = context(a);
  await ctx.vault.set("access-token", "shpat_secret_value_123");
  assert.equal(await ctx.vault.get("access-token"), "shpat_secret_value_123");
  const rows = await sql<{ key: string; value: unknown }>(
    "select key, value from plugin_state where client_id = $1",
    [a],
  );
  assert.equal(rows.length, 1);
  assert.ok(!JSON.stringify(rows).includes("shpat_secret_value_123"));
  // moved to another client, the sealed value does not open (its key and context are A's)
  await sql(
    "insert into plugin_state (client_id, plugin_id, key, value) select $2, plugin_id, key, value from plugin_state where client_id = $1",
    [a, b],
  );
  await assert.rejects(() => context(b).vault.get("access-token"));
  await ctx.vault.delete("access-token");
  assert.equal(await ctx.vault.get("access-token"), null);
  await assert.rejects(() => ctx.state.set("~vault:access-token", "forged"), /reserved/);
});

Deno.test("ctx.signer signs with a key of the installation's own: a token opens only for its context, untouched, in its installation", async () => {
  const { context } = await setUp();
  const [a, b] = [await createTestClient("Signer A"), await createTestClient("Signer B")];
  // concurrent first uses agree on one key
  const [t1, t2] = await Promise.all([
    context(a).signer.sign("cod:shop:919847012345", "confirm:1001"),
    context(a).signer.sign("cod:shop:919847012345", "cancel:1001"),
  ]);
  const ctx = context(a);
  assert.equal(await ctx.signer.open("cod:shop:919847012345", t1), "confirm:1001");
  assert.equal(await ctx.signer.open("cod:shop:919847012345", t2), "cancel:1001");
  assert.equal(await ctx.signer.open("cod:shop:447700900001", t1), null, "another recipient");
  const [payload, mac] = t1.split(".");
  const forged = `${btoa("confirm:1002").replaceAll("=", "")}.${mac}`;
  assert.notEqual(forged.split(".")[0], payload);
  assert.equal(await ctx.signer.open("cod:shop:919847012345", forged), null, "another order");
  assert.equal(await context(b).signer.open("cod:shop:919847012345", t1), null, "another client");
  const [key] = await sql<{ value: unknown }>(
    "select value from plugin_state where client_id = $1 and key = '~signing-key'",
    [a],
  );
  assert.ok(typeof (key.value as { sealed: string }).sealed === "string", "the key is sealed");
});

Deno.test("ctx.privacyRequests.record() records an upstream's request once per reference, its details encrypted", async () => {
  const { context } = await setUp();
  const clientId = await createTestClient("Privacy requests");
  const ctx = context(clientId);
  const request = {
    kind: "erasure" as const,
    reference: "customers/redact:shop.example:42",
    phone: "+91 98470 12345",
    details: { customer: { id: 42, email: "asha@example.com" }, orders: [1001] },
  };
  const first = await ctx.privacyRequests.record(request);
  const again = await ctx.privacyRequests.record(request);
  assert.equal(first.created, true);
  assert.deepEqual(again, { created: false, id: first.id });
  const rows = await sql<Record<string, string>>(
    "select kind, reference, subject_ref, status, details_ciphertext from plugin_privacy_requests where client_id = $1",
    [clientId],
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0].subject_ref, "919847012345");
  assert.equal(rows[0].status, "received");
  assert.ok(!rows[0].details_ciphertext.includes("asha@example.com"));
});

Deno.test("ctx.saveConfig() saves a valid config with an audit record, and refuses an invalid one or a new routing key", async () => {
  const { context, hostDeps } = await setUp();
  const clientId = await createTestClient("Save config");
  await hostDeps.plugins.save(clientId, {
    plugin_id: probe.id,
    enabled: true,
    config: { label: "x", shop: "one.example" },
    secrets_ciphertext: null,
    routing_key: "one.example",
  }, { actor: "test", action: "plugin.installed" });
  const ctx = context(clientId, { label: "x", shop: "one.example" });
  await ctx.saveConfig({ label: "new", shop: "one.example" }, { onBehalfOf: "staff:7" });
  const [row] = await sql<{ config: { label: string } }>(
    "select config from plugin_installations where client_id = $1",
    [clientId],
  );
  assert.equal(row.config.label, "new");
  const [audit] = await sql<{ actor: string; details: { on_behalf_of: string } }>(
    "select actor, details from audit_log where client_id = $1 and action = 'plugin.updated'",
    [clientId],
  );
  assert.deepEqual([audit.actor, audit.details.on_behalf_of], [
    "plugin:capability-probe",
    "staff:7",
  ]);
  await assert.rejects(
    () => ctx.saveConfig({ label: "x".repeat(30), shop: "one.example" }, { onBehalfOf: "s" }),
    /label/,
  );
  await assert.rejects(
    () => ctx.saveConfig({ label: "x", shop: "two.example" }, { onBehalfOf: "s" }),
    /routing key/,
  );
});

Deno.test("a setting named in upstreamsFromEnv adds its URL's host to the upstreams ctx.fetch may call; optional settings may be unset; a setting that is not a URL stops the start", async () => {
  const { context } = await setUp();
  const ctx = context(await createTestClient("Upstreams"));
  assert.equal(await (await ctx.fetch(`${UPSTREAM_URL}/x`)).text(), "upstream");
  await assert.rejects(() => ctx.fetch("http://127.0.0.2:9/x"), /not one of/);
  const registry = pluginRegistry([probe], { PROBE_SECRET: "s" });
  assert.deepEqual(registry.upstreams(probe.id), ["api.probe.example"]);
  assert.equal(registry.env(probe.id).get("PROBE_PREVIOUS_SECRET"), undefined);
  assert.throws(
    () => pluginRegistry([probe], { PROBE_SECRET: "s", PROBE_UPSTREAM_URL: "not a url" }),
    (e) =>
      e instanceof PluginRegistryError &&
      e.problems.includes("plugin capability-probe: env PROBE_UPSTREAM_URL is not a URL"),
  );
  assert.throws(
    () =>
      pluginRegistry([definePlugin({ ...probe, upstreamsFromEnv: ["UNDECLARED_URL"] })], {
        PROBE_SECRET: "s",
      }),
    /UNDECLARED_URL is not a declared env or optionalEnv/,
  );
});

Deno.test("a verified webhook for a routing key no installation holds is acknowledged and stores nothing", async () => {
  const { app } = await setUp();
  const shop = `nobody-${crypto.randomUUID()}.example`;
  const res = await app.request("/webhooks/capability-probe", {
    method: "POST",
    headers: { "x-probe-shop": shop, "content-type": "application/json" },
    body: "{}",
  }, { remoteAddr: "198.51.100.7" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: true, routed: false });
  assert.deepEqual(
    await sql(
      "select 1 from webhook_inbox where provider = 'capability-probe' and route_key = $1",
      [
        shop.slice(0, 64),
      ],
    ),
    [],
  );
});

Deno.test("a plugin page that names who may frame it is sent without X-Frame-Options; every other page keeps SAMEORIGIN", async () => {
  const { app } = await setUp();
  const get = (path: string) =>
    app.request(`/plugins/capability-probe${path}`, {}, { remoteAddr: "198.51.100.7" });
  const embedded = await get("/embedded");
  assert.equal(embedded.headers.get("x-frame-options"), null);
  assert.match(embedded.headers.get("content-security-policy")!, /frame-ancestors https:/);
  const plain = await get("/plain");
  assert.equal(plain.headers.get("x-frame-options"), "SAMEORIGIN");
  assert.match(plain.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
  const json = await app.request("/healthz", {}, { remoteAddr: "198.51.100.7" });
  assert.equal(json.headers.get("x-frame-options"), "SAMEORIGIN");
});
