import assert from "node:assert/strict";
import { shopifyHmac } from "../../../tools/emulators/shopify.ts";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql, testStack } from "../../_support/stack.ts";

/**
 * POST /webhooks/shopify against hostile and odd deliveries: nothing is stored before the HMAC
 * holds, no input gives a 5xx, and what is stored is handled once.
 */

async function stored(shop: string) {
  const [inbox] = await sql<{ n: number }>(
    "select count(*)::int as n from webhook_inbox where provider = 'shopify' and route_key = $1",
    [shop],
  );
  return inbox.n;
}

function post(appUrl: string, body: string | Uint8Array, headers: Record<string, string>) {
  return fetch(`${appUrl}/webhooks/shopify`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body as BodyInit,
  }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
}

const headersFor = (shop: string, topic: string, hmac: string, id = crypto.randomUUID()) => ({
  "x-shopify-topic": topic,
  "x-shopify-shop-domain": shop,
  "x-shopify-webhook-id": id,
  "x-shopify-hmac-sha256": hmac,
  "x-shopify-triggered-at": new Date().toISOString(),
});

Deno.test("a delivery with a bad HMAC is 401 with the error envelope and stores nothing; so is one without a signature, shop or webhook id", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
      deliver: false,
    });
    const body = JSON.stringify(order);
    const good = await shopifyHmac(s.apiSecret, body);
    const flipped = (good[0] === "A" ? "B" : "A") + good.slice(1);
    const cases: Array<[string, Record<string, string>, string | Uint8Array]> = [
      ["a signature of other bytes", headersFor(s.shop, "orders/create", good), body + " "],
      ["one character changed", headersFor(s.shop, "orders/create", flipped), body],
      [
        "signed with another secret",
        headersFor(s.shop, "orders/create", await shopifyHmac("x".repeat(32), body)),
        body,
      ],
      ["not base64", headersFor(s.shop, "orders/create", "not-a-mac!"), body],
      ["hex instead of base64", headersFor(s.shop, "orders/create", "ab".repeat(32)), body],
      ["no signature", {
        ...headersFor(s.shop, "orders/create", good),
        "x-shopify-hmac-sha256": "",
      }, body],
      [
        "no shop",
        { ...headersFor(s.shop, "orders/create", good), "x-shopify-shop-domain": "" },
        body,
      ],
      ["a shop that is not a shop", {
        ...headersFor(s.shop, "orders/create", good),
        "x-shopify-shop-domain": "evil.example.com",
      }, body],
      ["no webhook id", {
        ...headersFor(s.shop, "orders/create", good),
        "x-shopify-webhook-id": "",
      }, body],
      [
        "an empty body",
        headersFor(s.shop, "orders/create", await shopifyHmac(s.apiSecret, "")),
        "",
      ],
    ];
    for (const [what, headers, payload] of cases) {
      const res = await post(s.ch.appUrl, payload, headers);
      assert.equal(res.status, 401, what);
      assert.equal(res.body.error.code, "invalid_signature", what);
      assert.equal(typeof res.body.error.request_id, "string", what);
    }
    await s.ch.idle();
    assert.equal(await stored(s.shop), 0, "nothing stored");
    assert.equal(s.emulator.messages().length, 0, "nothing sent");
    const [entries] = await sql<{ n: number }>(
      "select count(*)::int as n from plugin_journal where client_id = $1",
      [s.ch.clientId],
    );
    assert.equal(entries.n, 0);
    // the same bytes with the right signature go through
    const ok = await post(s.ch.appUrl, body, headersFor(s.shop, "orders/create", good));
    assert.deepEqual(ok, { status: 200, body: { received: true, duplicate: false } });
  } finally {
    await s.close();
  }
});

Deno.test("during a secret rotation deliveries signed with the previous secret are accepted, those with neither are not", async () => {
  const next = `rotated-secret-${crypto.randomUUID()}`;
  const previous = testStack().secrets.shopify_api_secret;
  const s = await shopifyChannel({
    install: false,
    env: { SHOPIFY_API_SECRET: next, SHOPIFY_API_SECRET_PREVIOUS: previous },
  });
  try {
    // Shopify signs with the new secret now, and for up to an hour some deliveries with the old
    s.shopify.rotateSecret(next);
    await s.install();
    const body = JSON.stringify({ id: 1, name: "#1" });
    const cases = [[next, 200], [previous, 200], [`third-${crypto.randomUUID()}`, 401]] as const;
    for (const [secret, status] of cases) {
      const res = await post(
        s.ch.appUrl,
        body,
        headersFor(s.shop, "orders/updated", await shopifyHmac(secret, body)),
      );
      assert.equal(
        res.status,
        status,
        secret === next ? "new" : secret === previous ? "old" : "other",
      );
    }
  } finally {
    await s.close();
  }
});

Deno.test("no input gives a 5xx: malformed JSON is 400, an oversize body 413, a payload that is no order is acknowledged and noted without retries, a huge order is handled within bounds", async () => {
  const s = await shopifyChannel();
  try {
    const sign = (b: string) => shopifyHmac(s.apiSecret, b);
    const notJson = "{not json";
    const bad = await post(
      s.ch.appUrl,
      notJson,
      headersFor(s.shop, "orders/create", await sign(notJson)),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_json");

    const big = "x".repeat(4 * 1024 * 1024);
    const tooBig = await post(s.ch.appUrl, big, headersFor(s.shop, "orders/create", "AAAA"));
    assert.equal(tooBig.status, 413);

    const odd = ["[]", '"text"', "null", '{"id": "not a number"}', '{"id": 1, "line_items": 7}'];
    for (const body of odd) {
      const res = await post(
        s.ch.appUrl,
        body,
        headersFor(s.shop, "orders/create", await sign(body)),
      );
      assert.equal(res.status, 200, body);
    }
    const unknownTopic = '{"id": 1}';
    assert.equal(
      (await post(
        s.ch.appUrl,
        unknownTopic,
        headersFor(s.shop, "products/update", await sign(unknownTopic)),
      ))
        .status,
      200,
    );

    // an order of 5,000 line items with long titles: the plugin reads the first few
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
      deliver: false,
      order: {
        line_items: Array.from({ length: 5_000 }, (_, i) => ({
          id: i,
          title: "Kurta ".repeat(50),
          quantity: 1,
        })),
        name: "#" + "9".repeat(500),
      },
    });
    const huge = JSON.stringify(order);
    assert.ok(huge.length > 1_500_000, "well over a megabyte, under the 3 MiB limit");
    const res = await post(
      s.ch.appUrl,
      huge,
      headersFor(s.shop, "orders/create", await sign(huge)),
    );
    assert.equal(res.status, 200);
    await s.settled();
    const failed = await sql<{ last_error: string }>(
      "select last_error from webhook_inbox where provider = 'shopify' and route_key = $1 and last_error is not null",
      [s.shop],
    );
    assert.deepEqual(failed, [], "no delivery failed or waits for a retry");
    assert.equal(s.templatesTo("+919847012345").length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("a delivery for a shop no client linked is acknowledged and stores nothing", async () => {
  const s = await shopifyChannel({ install: false });
  try {
    const body = '{"id": 1}';
    const stranger = `stranger-${crypto.randomUUID().slice(0, 8)}.myshopify.com`;
    const res = await post(
      s.ch.appUrl,
      body,
      headersFor(stranger, "orders/create", await shopifyHmac(s.apiSecret, body)),
    );
    assert.deepEqual(res, { status: 200, body: { received: true, routed: false } });
    assert.equal(await stored(stranger), 0);
  } finally {
    await s.close();
  }
});

Deno.test("a delivery retried by Shopify is stored once and handled once", async () => {
  const s = await shopifyChannel();
  try {
    const body = JSON.stringify({ id: 42, name: "#42" });
    const headers = headersFor(s.shop, "orders/updated", await shopifyHmac(s.apiSecret, body));
    const first = await post(s.ch.appUrl, body, headers);
    const again = await post(s.ch.appUrl, body, headers);
    assert.deepEqual(first.body, { received: true, duplicate: false });
    assert.deepEqual(again.body, { received: true, duplicate: true });
    await eventually(async () => (await stored(s.shop)) === 1, "one stored delivery");
  } finally {
    await s.close();
  }
});
