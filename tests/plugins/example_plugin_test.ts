import assert from "node:assert/strict";
import { toHex } from "../../src/core/crypto/hmac.ts";
import { eraseFromPlugins, exportFromPlugins } from "../../src/services/plugins/privacy.ts";
import { eventually } from "../_support/channel.ts";
import { emulatedChannel } from "../_support/emulated_channel.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { sql } from "../_support/stack.ts";
import { EXAMPLE_ENV, EXAMPLE_LINE, registryWithLine } from "./_registry.ts";

async function sign(body: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(EXAMPLE_ENV.EXAMPLE_WEBHOOK_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(
    new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body))),
  );
}

Deno.test("a new plugin is its folder plus one line in plugins/mod.ts: listed with its config schema, configured, verified, and run on events, webhooks and pages", async () => {
  const plugins = await registryWithLine(EXAMPLE_LINE);
  assert.deepEqual(plugins.map((p) => p.id).sort(), ["example-echo", "opt-out", "shopify"]);
  const channel = await emulatedChannel({}, {}, {
    plugins: { plugins, pluginEnv: EXAMPLE_ENV },
  });
  const { ch, emulator } = channel;
  const shop = `shop-${crypto.randomUUID().slice(0, 8)}.example.com`;
  const sentTo = (to: string) =>
    emulator.messages().filter((m) => m.to === to).map((m) =>
      (m.body.text as { body: string }).body
    );
  try {
    const list = await ch.api("/v1/plugins");
    assert.equal(list.status, 200);
    const listed = list.body.data.find((p: { id: string }) => p.id === "example-echo");
    assert.equal(listed.enabled, false, "not on by default");
    assert.equal(listed.config_schema.properties.greeting.default, "Hello");

    const wrongToken = await ch.api("/v1/plugins/example-echo", {
      method: "PUT",
      body: JSON.stringify({ config: { shop }, secrets: { api_token: "token-for-another" } }),
    });
    assert.equal(wrongToken.status, 422, JSON.stringify(wrongToken.body));
    assert.equal(wrongToken.body.error.code, "plugin_verification_failed");

    const put = await ch.api("/v1/plugins/example-echo", {
      method: "PUT",
      body: JSON.stringify({
        config: { greeting: "Hi there", shop },
        secrets: { api_token: `token-for-${shop}` },
      }),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.installation.routing_key, shop);

    // an event: its filter keeps "echo …" messages only
    for (const text of ["echo ping", "hello"]) {
      await ch.postWebhook(
        envelope(
          ch.wabaId,
          ch.phoneNumberId,
          inbound("447700900701", "text", { text: { body: text } }),
        ),
      );
    }
    await eventually(
      () => Promise.resolve(sentTo("447700900701").includes("Hi there: ping")),
      "the echo",
    );
    const [state] = await sql<{ value: number }>(
      "select value from plugin_state where client_id = $1 and plugin_id = 'example-echo'",
      [ch.clientId],
    );
    assert.equal(state.value, 1);

    // a webhook from its upstream: verified by the plugin, recorded, routed by the shop (to the
    // contact that wrote: a free-form message needs its 24-hour window)
    const body = JSON.stringify({ to: "447700900701", text: "Your order shipped" });
    const post = (signature: string, delivery = "d-1") =>
      fetch(`${ch.appUrl}/webhooks/example-echo`, {
        method: "POST",
        headers: {
          "x-example-signature": signature,
          "x-example-shop": shop,
          "x-example-delivery": delivery,
          "x-example-topic": "orders/fulfilled",
        },
        body,
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    assert.equal((await post("00".repeat(32))).status, 401);
    assert.deepEqual(await post(await sign(body)), {
      status: 200,
      body: { received: true, duplicate: false },
    });
    assert.deepEqual((await post(await sign(body))).body, { received: true, duplicate: true });
    await eventually(
      () =>
        Promise.resolve(sentTo("447700900701").includes("[orders/fulfilled] Your order shipped")),
      "the relayed webhook",
    );
    const [row] = await sql<{ provider: string; done: boolean }>(
      "select provider, processed_at is not null as done from webhook_inbox where provider = 'example-echo' and dedupe_key = 'd-1'",
    );
    assert.deepEqual(row, { provider: "example-echo", done: true });

    // a page
    const page = await fetch(`${ch.appUrl}/plugins/example-echo/ping`);
    assert.equal(await page.text(), "pong");

    // privacy: what it holds about a contact, and erasing it
    const deps = ch.app.deps.plugins.deps;
    assert.deepEqual(await exportFromPlugins(deps, ch.clientId, { waId: "447700900701" }), {
      "example-echo": { echoes: 1 },
    });
    assert.deepEqual(await eraseFromPlugins(deps, ch.clientId, { waId: "447700900701" }), [
      "example-echo",
    ]);
    assert.deepEqual(
      await exportFromPlugins(deps, ch.clientId, { waId: "447700900701" }),
      { "example-echo": { echoes: null } },
    );
  } finally {
    await ch.close();
  }
});
