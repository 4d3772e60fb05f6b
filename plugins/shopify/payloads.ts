import * as z from "zod";

/**
 * The parts of Shopify's webhook payloads (REST-shaped JSON, API version 2026-07) and of the Admin
 * GraphQL order that the notifications use. Only these fields are read, each bounded; the rest of
 * a payload is ignored, so a field Shopify adds or drops elsewhere changes nothing.
 */

/** Shopify ids: integers in JSON, sometimes strings; kept as decimal strings. */
const Id = z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)])
  .transform(String);
const Text = (max: number) =>
  z.string().transform((s) => s.slice(0, max)).nullish().transform((s) => s ?? null);
const Country = z.string().regex(/^[A-Za-z]{2}$/).transform((s) => s.toUpperCase()).nullish()
  .catch(null).transform((s) => s ?? null);
/** a list cut to `max` items, each item that does not fit dropped rather than failing the whole */
const listOf = <T extends z.ZodType>(item: T, max: number) =>
  z.array(z.unknown()).nullish().transform((items) =>
    (items ?? []).slice(0, max).flatMap((i) => {
      const parsed = item.safeParse(i);
      return parsed.success ? [parsed.data as z.output<T>] : [];
    })
  );

const Address = z.object({
  first_name: Text(100),
  phone: Text(64),
  country_code: Country,
}).nullish().catch(null).transform((a) => a ?? null);

const Attribute = z.object({ name: z.string().max(200), value: z.unknown() });

/** An order as `orders/create` and `orders/cancelled` deliver it. */
export const OrderPayload = z.object({
  id: Id,
  name: Text(100),
  phone: Text(64),
  customer: z.object({
    first_name: Text(100),
    last_name: Text(100),
    phone: Text(64),
    default_address: z.object({ country_code: Country }).nullish().catch(null),
  }).nullish().catch(null),
  shipping_address: Address,
  billing_address: Address,
  customer_locale: Text(35),
  currency: Text(3),
  presentment_currency: Text(3),
  total_price: Text(30),
  current_total_price: Text(30),
  financial_status: Text(40),
  payment_gateway_names: listOf(z.string().max(200), 10),
  cancelled_at: Text(40),
  note_attributes: listOf(Attribute, 50),
  line_items: listOf(z.object({ title: Text(200), quantity: z.number().int().nullish() }), 20),
  order_status_url: Text(2000),
  updated_at: Text(40),
  created_at: Text(40),
});

export const FulfillmentPayload = z.object({
  id: Id,
  order_id: Id,
  status: Text(40),
  tracking_company: Text(200),
  tracking_number: Text(200),
  tracking_numbers: listOf(z.string().max(200), 5),
  tracking_url: Text(2000),
  tracking_urls: listOf(z.string().max(2000), 5),
  updated_at: Text(40),
  created_at: Text(40),
});

export const FulfillmentEventPayload = z.object({
  id: Id,
  fulfillment_id: Id,
  order_id: Id,
  status: Text(40),
  happened_at: Text(40),
  updated_at: Text(40),
  created_at: Text(40),
});

export const RefundPayload = z.object({
  id: Id,
  order_id: Id,
  created_at: Text(40),
  transactions: listOf(
    z.object({ amount: Text(30), currency: Text(3), kind: Text(20), status: Text(20) }),
    20,
  ),
});

/** customers/data_request and customers/redact (https://shopify.dev/docs/apps/build/compliance). */
export const CustomerPrivacyPayload = z.object({
  shop_id: Id.nullish(),
  shop_domain: Text(255),
  customer: z.object({ id: Id.nullish(), email: Text(320), phone: Text(64) }).nullish().catch(null),
  orders_requested: listOf(Id, 1000),
  orders_to_redact: listOf(Id, 1000),
  data_request: z.object({ id: Id }).nullish().catch(null),
});

export const ShopPrivacyPayload = z.object({ shop_id: Id.nullish(), shop_domain: Text(255) });

/** What a notification needs of an order, whichever way it came (a webhook, or the Admin API). */
export interface OrderInfo {
  id: string;
  name: string | null;
  firstName: string | null;
  fullName: string | null;
  phones: {
    order: string | null;
    shipping: string | null;
    customer: string | null;
    billing: string | null;
  };
  countries: { shipping: string | null; billing: string | null; customer: string | null };
  locale: string | null;
  currency: string | null;
  total: string | null;
  financialStatus: string | null;
  gateways: string[];
  cancelled: boolean;
  attributes: Array<{ name: string; value: string }>;
  items: Array<{ title: string; quantity: number }>;
  statusUrl: string | null;
}

const attributeValue = (v: unknown) =>
  typeof v === "string"
    ? v.slice(0, 200)
    : typeof v === "boolean" || typeof v === "number"
    ? String(v)
    : "";

export function orderFromWebhook(o: z.output<typeof OrderPayload>): OrderInfo {
  const first = o.customer?.first_name ?? o.shipping_address?.first_name ?? null;
  const last = o.customer?.last_name ?? null;
  return {
    id: o.id,
    name: o.name,
    firstName: first,
    fullName: [first, last].filter(Boolean).join(" ") || null,
    phones: {
      order: o.phone,
      shipping: o.shipping_address?.phone ?? null,
      customer: o.customer?.phone ?? null,
      billing: o.billing_address?.phone ?? null,
    },
    countries: {
      shipping: o.shipping_address?.country_code ?? null,
      billing: o.billing_address?.country_code ?? null,
      customer: o.customer?.default_address?.country_code ?? null,
    },
    locale: o.customer_locale,
    currency: o.presentment_currency ?? o.currency,
    total: o.current_total_price ?? o.total_price,
    financialStatus: o.financial_status?.toLowerCase() ?? null,
    gateways: o.payment_gateway_names,
    cancelled: o.cancelled_at !== null,
    attributes: o.note_attributes.map((a) => ({ name: a.name, value: attributeValue(a.value) })),
    items: o.line_items.map((i) => ({ title: i.title ?? "", quantity: i.quantity ?? 1 })),
    statusUrl: o.order_status_url,
  };
}

/** The Admin GraphQL order query's answer (ORDER_QUERY in admin.ts). */
export const GraphqlOrder = z.object({
  legacyResourceId: Id,
  name: Text(100),
  phone: Text(64),
  customerLocale: Text(35),
  currencyCode: Text(3),
  presentmentCurrencyCode: Text(3),
  displayFinancialStatus: Text(40),
  paymentGatewayNames: listOf(z.string().max(200), 10),
  cancelledAt: Text(40),
  statusPageUrl: Text(2000),
  totalPriceSet: z.object({
    presentmentMoney: z.object({ amount: Text(30), currencyCode: Text(3) }).nullish(),
  }).nullish().catch(null),
  customAttributes: listOf(z.object({ key: z.string().max(200), value: z.unknown() }), 50),
  customer: z.object({
    firstName: Text(100),
    lastName: Text(100),
    defaultPhoneNumber: z.object({ phoneNumber: Text(64) }).nullish().catch(null),
    defaultAddress: z.object({ countryCodeV2: Country }).nullish().catch(null),
  }).nullish().catch(null),
  shippingAddress: z.object({ firstName: Text(100), phone: Text(64), countryCodeV2: Country })
    .nullish().catch(null),
  billingAddress: z.object({ phone: Text(64), countryCodeV2: Country }).nullish().catch(null),
  lineItems: z.object({
    nodes: listOf(z.object({ title: Text(200), quantity: z.number().int().nullish() }), 20),
  }).nullish().catch(null),
});

export function orderFromGraphql(o: z.output<typeof GraphqlOrder>): OrderInfo {
  const first = o.customer?.firstName ?? o.shippingAddress?.firstName ?? null;
  return {
    id: o.legacyResourceId,
    name: o.name,
    firstName: first,
    fullName: [first, o.customer?.lastName].filter(Boolean).join(" ") || null,
    phones: {
      order: o.phone,
      shipping: o.shippingAddress?.phone ?? null,
      customer: o.customer?.defaultPhoneNumber?.phoneNumber ?? null,
      billing: o.billingAddress?.phone ?? null,
    },
    countries: {
      shipping: o.shippingAddress?.countryCodeV2 ?? null,
      billing: o.billingAddress?.countryCodeV2 ?? null,
      customer: o.customer?.defaultAddress?.countryCodeV2 ?? null,
    },
    locale: o.customerLocale,
    currency: o.totalPriceSet?.presentmentMoney?.currencyCode ?? o.presentmentCurrencyCode ??
      o.currencyCode,
    total: o.totalPriceSet?.presentmentMoney?.amount ?? null,
    financialStatus: o.displayFinancialStatus?.toLowerCase() ?? null,
    gateways: o.paymentGatewayNames,
    cancelled: o.cancelledAt !== null,
    attributes: o.customAttributes.map((a) => ({ name: a.key, value: attributeValue(a.value) })),
    items: (o.lineItems?.nodes ?? []).map((i) => ({
      title: i.title ?? "",
      quantity: i.quantity ?? 1,
    })),
    statusUrl: o.statusPageUrl,
  };
}
