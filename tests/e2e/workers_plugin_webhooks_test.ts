import assert from "node:assert/strict";
import { join } from "node:path";
import { startWorkerApp } from "../../bench/workerd.ts";
import { shopifyHmac } from "../../tools/emulators/shopify.ts";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { eventually } from "../_support/channel.ts";
import { watchDatabaseCalls, writes } from "../_support/database_calls.ts";
import { createTestClient, sql, testStack } from "../_support/stack.ts";

/**
 * A plugin's webhooks take Meta's path on Workers: the deploy bundle in workerd (its queue
 * consumer driven as Cloudflare drives it, held until the deliveries are answered) acknowledges
 * signed Shopify deliveries with no database write, the routing key's lookup being its only call,
 * and the consumer records them, a repeated X-Shopify-Webhook-Id once, as the inbox's dedupe does
 * before the 200 on Deno.
 */
Deno.test("on Workers a Shopify webhook is acknowledged from the queue without a database write, and its consumer records a repeated delivery once", async () => {
  const stack = testStack();
  const clientId = await createTestClient("Workers plugin webhooks");
  const shop = `shop-${crypto.randomUUID().slice(0, 8)}.myshopify.com`;
  await sql(
    "insert into plugin_installations (client_id, plugin_id, routing_key, config) values ($1, 'shopify', $2, $3)",
    [clientId, shop, { shop_domain: shop }],
  );
  const watch = watchDatabaseCalls(stack.supabaseUrl);
  const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix: "plugin-webhooks-" });
  const port = await freePort();
  const app = await startWorkerApp({
    env: {
      ...stack.appEnv,
      SUPABASE_URL: watch.url,
      LOG_LEVEL: "error",
      SWEEP_INTERVAL_SECONDS: "3600",
    },
    port,
    dir,
    held: true,
  });
  try {
    await watch.settled();
    const start = watch.calls().length;
    const deliver = async (webhookId: string) => {
      const body = JSON.stringify({ id: 4501, name: "#1001", updated_at: "2026-12-01T10:00:00Z" });
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/shopify`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-hmac-sha256": await shopifyHmac(stack.secrets.shopify_api_secret, body),
          "x-shopify-shop-domain": shop,
          "x-shopify-webhook-id": webhookId,
          "x-shopify-topic": "orders/create",
        },
        body,
      });
      return { status: res.status, body: await res.json() };
    };
    const answers = [await deliver("wh-1"), await deliver("wh-1"), await deliver("wh-2")];
    // recorded after the answer, so whether one repeats another is not known yet
    assert.deepEqual(answers, Array(3).fill({ status: 200, body: { received: true } }));
    await watch.settled(500);
    assert.deepEqual(writes(watch.calls().slice(start)), [], "no write before the consumer runs");
    app.broker.release();
    const keys = [`${shop}:wh-1`, `${shop}:wh-2`];
    const rows = await eventually(async () => {
      const found = await sql<{ dedupe_key: string }>(
        "select dedupe_key from webhook_inbox where provider = 'shopify' and dedupe_key = any($1)",
        [keys],
      );
      return found.length === 2 && app.broker.pending() === 0 ? found : null;
    }, "the consumer to record the deliveries");
    assert.deepEqual(rows.map((r) => r.dedupe_key).sort(), keys);
  } finally {
    await app.stop();
    await watch.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
