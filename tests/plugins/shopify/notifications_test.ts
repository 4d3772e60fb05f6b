import assert from "node:assert/strict";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql } from "../../_support/stack.ts";

/**
 * The notifications through the real stack: the Shopify emulator posts signed webhooks to the
 * app, the plugin sends through the core to the Graph API emulator. Each test has its own client
 * and shop.
 */

type Template = {
  name: string;
  language: { code: string };
  components: Array<{ type: string; sub_type?: string; parameters: Array<Record<string, string>> }>;
};
const bodyTexts = (t: Template) => t.components[0].parameters.map((p) => p.text);
const templateOf = (m: { body: Record<string, unknown> }) => m.body.template as Template;

async function journal(clientId: string) {
  return await sql<
    {
      key: string;
      kind: string;
      outcome: string;
      reason: string | null;
      data: Record<string, unknown>;
    }
  >(
    "select key, kind, outcome, reason, data from plugin_journal where client_id = $1 and kind <> 'version' order by created_at, key",
    [clientId],
  );
}

const NUMBER = "+919847012345";

Deno.test("fulfillments/create with tracking sends a shipping update carrying the carrier, the number and the link", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    // handled before the fulfillment arrives, as it would be: an earlier event is stale once a
    // later one of the order was handled
    await s.settled();
    const shipped = await s.control(`/orders/${order.id}/fulfillments`, {
      tracking_company: "Delhivery",
      tracking_number: "DL123456789IN",
      tracking_url: "https://www.delhivery.com/track/package/DL123456789IN",
    });
    assert.equal(shipped.deliveries[0].status, 200);
    await s.settled();
    const sent = s.templatesTo(NUMBER).map(templateOf);
    assert.deepEqual(sent.map((t) => t.name), ["order_confirmation", "shipping_update"]);
    assert.deepEqual(bodyTexts(sent[1]), [
      "Asha",
      order.name,
      "Delhivery",
      "DL123456789IN",
      "https://www.delhivery.com/track/package/DL123456789IN",
    ]);
    // the fulfillment payload has no customer: the order was read through the Admin API
    assert.ok(s.shopify.calls(s.shop).some((c) => c.operation === "order"));

    // an update of the same fulfillment (another subscription, a tracking edit) sends nothing more
    await s.control("/webhooks", {
      shop: s.shop,
      topic: "fulfillments/update",
      payload: { ...shipped.fulfillment, updated_at: new Date().toISOString() },
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 2);
  } finally {
    await s.close();
  }
});

Deno.test("out for delivery, delivered, a refund and a cancellation each send their template once; an out-for-delivery after delivered is stale", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    const later = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
    // each handled before the next arrives, as hours apart they would be
    const ship = async (number: string) => {
      const { fulfillment } = await s.control(`/orders/${order.id}/fulfillments`, {
        tracking_company: "Blue Dart",
        tracking_number: number,
      });
      await s.settled();
      return fulfillment;
    };
    const event = async (fulfillment: { id: number }, status: string, at: string) => {
      await s.control(`/orders/${order.id}/fulfillment-events`, {
        fulfillment_id: fulfillment.id,
        status,
        triggered_at: at,
      });
      await s.settled();
    };
    await s.settled();
    const first = await ship("BD1");
    await event(first, "out_for_delivery", later(1));
    await event(first, "delivered", later(2));
    // the second parcel: "delivered" arrives first, then Shopify's late "out for delivery"
    const second = await ship("BD2");
    await event(second, "delivered", later(4));
    await event(second, "out_for_delivery", later(3));
    await event(second, "in_transit", later(5));
    await s.control(`/orders/${order.id}/refunds`, { amount: "499.00" });
    await s.settled();
    await s.control(`/orders/${order.id}/cancel`);
    await s.settled();
    const sent = s.templatesTo(NUMBER).map(templateOf);
    assert.deepEqual(sent.map((t) => t.name), [
      "order_confirmation",
      "shipping_update",
      "out_for_delivery",
      "order_delivered",
      "shipping_update",
      "order_delivered",
      "order_refunded",
      "order_cancelled",
    ]);
    assert.deepEqual(bodyTexts(sent[6]), ["Asha", order.name, "₹499.00"]);
    const stale = (await journal(s.ch.clientId)).filter((e) => e.reason === "stale");
    assert.deepEqual(
      stale.map((e) => e.key),
      [`out_for_delivery:${order.id}:${second.id}`],
      "recorded, with its reason",
    );
  } finally {
    await s.close();
  }
});

Deno.test("an orders/create that arrives after the order's cancellation sends no confirmation, and says it was stale", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
      deliver: false,
    });
    const earlier = new Date(Date.now() - 60_000).toISOString();
    await s.control(`/orders/${order.id}/cancel`);
    // Shopify's retry of the original orders/create, a minute older than the cancellation
    await s.control("/webhooks", {
      shop: s.shop,
      topic: "orders/create",
      payload: { ...order, cancelled_at: null },
      triggered_at: earlier,
    });
    await s.settled();
    assert.deepEqual(s.templatesTo(NUMBER).map((m) => templateOf(m).name), ["order_cancelled"]);
    const entries = await journal(s.ch.clientId);
    // the two deliveries may be handled side by side: their entries come in either order
    assert.deepEqual(
      entries.map((e) => [e.kind, e.outcome, e.reason]).sort((a, b) =>
        String(a[0]).localeCompare(String(b[0]))
      ),
      [
        ["cancellation", "sent", null],
        ["order_confirmation", "suppressed", "stale"],
      ],
    );
  } finally {
    await s.close();
  }
});

Deno.test("without an opt-in nothing is sent and the suppression no_consent is recorded; with order-implied consent the merchant chose, it is sent and says so", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 0);
    assert.deepEqual(
      (await journal(s.ch.clientId)).map((e) => [e.key, e.outcome, e.reason]),
      [[`order_confirmation:${order.id}`, "suppressed", "no_consent"]],
    );

    const put = await s.ch.api("/v1/plugins/shopify", {
      method: "PUT",
      body: JSON.stringify({ config: { shop_domain: s.shop, consent: { order_implied: true } } }),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const second = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 1);
    const entry = (await journal(s.ch.clientId)).find((e) =>
      e.key === `order_confirmation:${second.order.id}`
    );
    assert.deepEqual([entry?.outcome, entry?.data.consent], ["sent", "order_implied"]);
  } finally {
    await s.close();
  }
});

Deno.test("a customer who wrote STOP receives nothing more, and the merchant page shows why", async () => {
  const s = await shopifyChannel();
  try {
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 1);
    await fetch(`${s.emulator.url}/__emulator/inbound`, {
      method: "POST",
      body: JSON.stringify({
        phone_number_id: s.ch.phoneNumberId,
        from: "919847012345",
        text: "STOP",
      }),
    }).then((r) => r.body?.cancel());
    await eventually(async () => {
      await s.ch.idle();
      const [c] = await sql<{ consent_status: string }>(
        "select consent_status from contacts where client_id = $1 and wa_id = '919847012345'",
        [s.ch.clientId],
      );
      return c?.consent_status === "opted_out";
    }, "the opt-out");
    const before = s.emulator.messages().length;
    // a new order with the checkout box ticked again: the opt-out still wins
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    assert.equal(s.emulator.messages().length, before, "nothing more was sent");
    const entry = (await journal(s.ch.clientId)).find((e) =>
      e.key === `order_confirmation:${order.id}`
    );
    assert.deepEqual([entry?.outcome, entry?.reason], ["suppressed", "opted_out"]);
    const page = await s.openApp();
    assert.equal(page.status, 200);
    assert.match(
      page.html,
      new RegExp(
        `${order.name}</td><td>\\+91 ••• 2345</td><td>Not sent: The customer opted out \\(STOP\\)`,
      ),
    );
  } finally {
    await s.close();
  }
});

Deno.test("a number that is no phone number is a recorded suppression, not an error; the address' country completes a national one", async () => {
  const s = await shopifyChannel({ config: { default_country: "IN" } });
  try {
    const bad = await s.control("/orders", {
      shop: s.shop,
      phone: "12",
      country: "IN",
      opt_in: true,
    });
    const none = await s.control("/orders", {
      shop: s.shop,
      phone: null,
      country: "IN",
      opt_in: true,
    });
    const czech = await s.control("/orders", {
      shop: s.shop,
      phone: "00420 601 123 456",
      country: "CZ",
      opt_in: true,
    });
    await s.settled();
    const entries = new Map((await journal(s.ch.clientId)).map((e) => [e.key, e]));
    assert.equal(entries.get(`order_confirmation:${bad.order.id}`)?.reason, "invalid_phone");
    assert.equal(entries.get(`order_confirmation:${none.order.id}`)?.reason, "no_phone");
    assert.equal(entries.get(`order_confirmation:${czech.order.id}`)?.outcome, "sent");
    assert.equal(s.templatesTo("+420601123456").length, 1);
    const [parked] = await sql<{ n: number }>(
      "select count(*)::int as n from webhook_inbox where provider = 'shopify' and route_key = $1 and last_error is not null",
      [s.shop],
    );
    assert.equal(parked.n, 0, "no delivery failed");
  } finally {
    await s.close();
  }
});

Deno.test("Cancel on a COD confirmation tags and cancels the order once when the merchant chose that, and the cancellation template is not sent on top", async () => {
  const s = await shopifyChannel({ config: { cod: { on_cancel: "cancel_order" } } });
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      cod: true,
      opt_in: true,
    });
    await s.settled();
    const [sent] = s.templatesTo(NUMBER);
    const buttons = templateOf(sent).components.filter((c) => c.type === "button");
    const cancel = buttons[1].parameters[0].payload;
    const tap = (payload: string, from = "919847012345") =>
      fetch(`${s.emulator.url}/__emulator/inbound`, {
        method: "POST",
        body: JSON.stringify({
          phone_number_id: s.ch.phoneNumberId,
          from,
          message: { type: "button", button: { payload, text: "Cancel" } },
        }),
      }).then((r) => r.body?.cancel());
    // someone else replaying the payload: it was signed for the customer's number only
    await tap(cancel, "447911123456");
    // a forged payload for the same order
    await tap(`shopify-cod:${btoa(`x:${order.id}`).replaceAll("=", "")}.AAAAAAAAAAAAAAAAAAAAAA`);
    await s.ch.idle();
    await new Promise((r) => setTimeout(r, 300));
    await s.ch.idle();
    assert.equal(s.shopify.calls(s.shop).filter((c) => c.operation === "tagsAdd").length, 0);

    await tap(cancel);
    await tap(buttons[0].parameters[0].payload);
    await eventually(async () => {
      await s.settled();
      return s.shopify.order(String(order.id))?.cancelled_at;
    }, "the cancellation");
    await s.settled();
    const calls = s.shopify.calls(s.shop);
    assert.equal(calls.filter((c) => c.operation === "tagsAdd").length, 1);
    assert.equal(calls.filter((c) => c.operation === "orderCancel").length, 1);
    assert.equal(s.shopify.order(String(order.id))?.tags, "cod-cancelled");
    assert.deepEqual(
      s.textsTo(NUMBER).map((m) => (m.body.text as { body: string }).body),
      [`Your order ${order.name} has been cancelled.`],
    );
    assert.deepEqual(s.templatesTo(NUMBER).map((m) => templateOf(m).name), ["cod_confirmation"]);
    const cancellation = (await journal(s.ch.clientId)).find((e) => e.kind === "cancellation");
    assert.equal(cancellation?.reason, "cancelled_by_customer");
  } finally {
    await s.close();
  }
});

Deno.test("an older delivery that finds its order's version moved on does not cost the customer the message the newer one is sending", async () => {
  const { pluginContext } = await import("../../../src/services/plugins/context.ts");
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
      deliver: false,
    });
    const older = new Date(Date.now() - 60_000).toISOString();
    const newer = new Date().toISOString();
    // the newer delivery has moved the order's version on, and is about to claim the key...
    const deps = s.ch.app.deps.plugins.deps;
    const ctx = pluginContext(deps, deps.registry.get("shopify")!, s.ch.clientId, {
      config: {},
      secrets: {},
      signal: new AbortController().signal,
      sendKey: "t",
    });
    await ctx.journal.advance(`order:${order.id}`, 1e13 + Date.parse(newer));
    // ...when the older one runs, finds itself stale and claims the key first
    await s.control("/webhooks", {
      shop: s.shop,
      topic: "orders/create",
      payload: order,
      triggered_at: older,
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 0);
    await s.control("/webhooks", {
      shop: s.shop,
      topic: "orders/create",
      payload: order,
      triggered_at: newer,
    });
    await s.settled();
    assert.equal(s.templatesTo(NUMBER).length, 1, "the current event still sends");
    const [entry] = (await journal(s.ch.clientId)).filter((e) => e.kind === "order_confirmation");
    assert.deepEqual([entry.outcome, entry.reason], ["sent", null]);
  } finally {
    await s.close();
  }
});

Deno.test("a stale delivery leaves alone the entry another delivery of the event holds while it sends", async () => {
  const { pluginContext } = await import("../../../src/services/plugins/context.ts");
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
      deliver: false,
    });
    const deps = s.ch.app.deps.plugins.deps;
    const ctx = pluginContext(deps, deps.registry.get("shopify")!, s.ch.clientId, {
      config: {},
      secrets: {},
      signal: new AbortController().signal,
      sendKey: "t",
    });
    // another delivery has moved the order on and holds the notification's key, sending it
    await ctx.journal.advance(`order:${order.id}`, 1e13 + Date.now());
    await ctx.journal.claim(`order_confirmation:${order.id}`, {
      kind: "order_confirmation",
      data: { by: "another-delivery" },
    });
    await s.control("/webhooks", {
      shop: s.shop,
      topic: "orders/create",
      payload: order,
      triggered_at: new Date(Date.now() - 60_000).toISOString(),
    });
    await s.settled();
    const [entry] = (await journal(s.ch.clientId)).filter((e) => e.kind === "order_confirmation");
    assert.deepEqual([entry.outcome, entry.reason], ["pending", null], "not marked stale");
  } finally {
    await s.close();
  }
});
