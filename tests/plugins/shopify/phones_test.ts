import assert from "node:assert/strict";
import { ShopifyConfig } from "../../../plugins/shopify/config.ts";
import { formatMoney, isCashOnDelivery, parameterValue } from "../../../plugins/shopify/notify.ts";
import {
  orderFromWebhook,
  type OrderInfo,
  OrderPayload,
} from "../../../plugins/shopify/payloads.ts";
import { normalisePhone, pickRecipient } from "../../../plugins/shopify/phones.ts";

/** The order's number, money and template parameters: pure functions, no stack. */

const order = (patch: Partial<OrderInfo> = {}): OrderInfo => ({
  id: "1",
  name: "#1001",
  firstName: "Asha",
  fullName: "Asha Kumar",
  phones: { order: null, shipping: null, customer: null, billing: null },
  countries: { shipping: null, billing: null, customer: null },
  locale: "en-IN",
  currency: "INR",
  total: "1499.00",
  financialStatus: "pending",
  gateways: [],
  cancelled: false,
  attributes: [],
  items: [],
  statusUrl: null,
  ...patch,
});

Deno.test("normalisePhone() reads a national number with its address' country, and refuses what is not a number there", () => {
  const cases: Array<[string, string | null, string | null]> = [
    ["098470 12345", "IN", "+919847012345"],
    ["9847012345", "IN", "+919847012345"],
    ["+91 98470 12345", "US", "+919847012345"],
    ["00420 601 123 456", "CZ", "+420601123456"],
    ["090-1234-5678", "JP", "+819012345678"],
    ["(11) 91234-5678", "BR", "+5511912345678"],
    ["07911 123456", "GB", "+447911123456"],
    ["07911 123456", null, null],
    ["12", "IN", null],
    ["not a number", "IN", null],
    ["9".repeat(100), "IN", null],
    ["+1 555 123 4567", null, null],
  ];
  for (const [raw, country, expected] of cases) {
    assert.equal(normalisePhone(raw, country), expected, `${raw} in ${country}`);
  }
});

Deno.test("pickRecipient() takes the order's, then the shipping, customer and billing numbers, the first usable one", () => {
  const IN = { shipping: "IN", billing: "IN", customer: "IN" };
  assert.deepEqual(
    pickRecipient(order({
      countries: IN,
      phones: { order: null, shipping: "098470 12345", customer: "9847099999", billing: null },
    })),
    { ok: true, e164: "+919847012345", source: "shipping" },
  );
  assert.deepEqual(
    pickRecipient(order({
      countries: IN,
      phones: { order: "12", shipping: "garbage", customer: null, billing: "9847055555" },
    })),
    { ok: true, e164: "+919847055555", source: "billing" },
  );
  assert.deepEqual(
    pickRecipient(
      order({ phones: { order: "12", shipping: null, customer: null, billing: null } }),
    ),
    { ok: false, reason: "invalid_phone" },
  );
  assert.deepEqual(pickRecipient(order()), { ok: false, reason: "no_phone" });
  // no address country: the merchant's default completes a national number
  const national = order({
    phones: { order: "098470 12345", shipping: null, customer: null, billing: null },
  });
  assert.deepEqual(pickRecipient(national), { ok: false, reason: "invalid_phone" });
  assert.equal((pickRecipient(national, "IN") as { e164: string }).e164, "+919847012345");
});

Deno.test("order totals are written in the order's currency as the customer's locale writes them", () => {
  assert.equal(formatMoney("1499", "INR", order()), "₹1,499.00");
  assert.equal(formatMoney("1499.5", "EUR", order({ locale: "de" })), "1.499,50\u00a0€");
  assert.equal(formatMoney("10", "USD", order({ locale: "not a locale!" })), "$10.00");
  assert.equal(formatMoney("abc", "USD", order()), null);
});

Deno.test("template parameters never carry a newline, a tab, five spaces or nothing at all", () => {
  const o = order({ firstName: "Asha\n\tKumar     the  great", items: [], name: null });
  assert.equal(parameterValue("customer_first_name", o, {}), "Asha Kumar   the  great");
  assert.equal(parameterValue("tracking_url", o, {}), "-");
  assert.equal(parameterValue("order_name", o, {}), "#1");
  const many = order({
    items: Array.from({ length: 8 }, (_, i) => ({ title: `T${i}`, quantity: 2 })),
  });
  assert.equal(parameterValue("items", many, {}), "2 × T0, 2 × T1, 2 × T2, 2 × T3, 2 × T4 +3");
});

Deno.test("cash on delivery is a pending payment through a gateway that names it, or one the merchant listed", () => {
  const config = ShopifyConfig.parse({
    shop_domain: "x.myshopify.com",
    cod: { gateways: ["Pay at door"] },
  });
  assert.ok(isCashOnDelivery(order({ gateways: ["Cash on Delivery (COD)"] }), config));
  assert.ok(isCashOnDelivery(order({ gateways: ["cod"] }), config));
  assert.ok(isCashOnDelivery(order({ gateways: ["Pay at door"] }), config));
  assert.ok(!isCashOnDelivery(order({ gateways: ["shopify_payments"] }), config));
  assert.ok(!isCashOnDelivery(order({ gateways: ["COD"], financialStatus: "paid" }), config));
  assert.ok(!isCashOnDelivery(order({ gateways: ["Barcode scanner"] }), config), "not a substring");
});

Deno.test("a webhook order is read within bounds whatever it carries", () => {
  const parsed = OrderPayload.parse({
    id: 5,
    name: "x".repeat(10_000),
    line_items: Array.from({ length: 1000 }, () => ({ title: "t", quantity: 1 })),
    note_attributes: [{ name: "whatsapp_opt_in", value: true }, "junk", { value: 1 }],
    shipping_address: "not an address",
    customer: { first_name: 7 },
  });
  const o = orderFromWebhook(parsed);
  assert.equal(o.name?.length, 100);
  assert.equal(o.items.length, 20);
  assert.deepEqual(o.attributes, [{ name: "whatsapp_opt_in", value: "true" }]);
  assert.equal(o.phones.shipping, null);
  assert.equal(o.firstName, null);
});
