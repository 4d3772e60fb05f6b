import type * as z from "zod";
import { AdminApiError, destroyToken, fetchOrder, NotInstalled } from "./admin.ts";
import { codButtons } from "./cod.ts";
import type { Notification } from "./config.ts";
import { type Ctx, isCashOnDelivery, notify } from "./notify.ts";
import {
  CustomerPrivacyPayload,
  FulfillmentEventPayload,
  FulfillmentPayload,
  orderFromWebhook,
  type OrderInfo,
  OrderPayload,
  RefundPayload,
  ShopPrivacyPayload,
} from "./payloads.ts";
import { normalisePhone } from "./phones.ts";
import { HEADER, keptHeader } from "./webhook.ts";

/**
 * What each webhook topic does. Shopify delivers at least once, in no order, sometimes a day
 * late, and a retry carries the payload of when the event fired: so each notification is deduped
 * on its business key (notify.ts), and each event is placed in its resource's history by a
 * version, stage first then time (`X-Shopify-Triggered-At`, else the payload's own time), which
 * only moves forward. An order's versions: 1 for anything while it is open (created, fulfilled),
 * 2 once cancelled; a fulfillment's: 1 shipped, 2 out for delivery, 3 delivered. An event below
 * its resource's version is stale: a late `orders/create` of a shipped or cancelled order sends
 * no confirmation, an "out for delivery" after "delivered" nothing.
 */

export interface Delivery {
  id: number;
  body: unknown;
  headers: Readonly<Record<string, string>>;
}

/** the shop's state the plugin keeps (ctx.state "shop") */
export interface ShopState {
  status: "active" | "uninstalled";
  installed_at?: string;
  uninstalled_at?: string;
  webhooks_uri?: string;
}

/** stage × 10^13 + milliseconds: stays below 2^53 with stages up to 9, until the year 2286 */
const version = (stage: number, at: number) => stage * 1e13 + at;
const stageOf = (v: number) => Math.floor(v / 1e13);

function timeOf(delivery: Delivery, ...candidates: Array<string | null>): number {
  for (const text of [keptHeader(delivery.headers, HEADER.triggeredAt), ...candidates]) {
    const at = text ? Date.parse(text) : NaN;
    if (Number.isFinite(at) && at > 0 && at < 1e13) return at;
  }
  return Date.now();
}

function parse<T extends z.ZodType>(ctx: Ctx, schema: T, body: unknown, topic: string) {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data as z.output<T>;
  // a payload that cannot be this topic's will not become one on a retry: noted, not retried
  ctx.logger.warn("shopify_payload_unusable", { topic, issues: parsed.error.issues.length });
  return null;
}

/** The order of a fulfillment or refund, from the Admin API; null when that is not possible now. */
async function orderOr(
  ctx: Ctx,
  kind: Notification,
  key: string,
  orderId: string,
  by: string,
) {
  try {
    return await fetchOrder(ctx, ctx.config.shop_domain, orderId);
  } catch (error) {
    if (!(error instanceof NotInstalled) && !(error instanceof AdminApiError && !error.retryable)) {
      throw error;
    }
    const { created, entry } = await ctx.journal.claim(key, {
      kind,
      subject: `#${orderId}`,
      data: { order_id: orderId, by },
    });
    if (created || (entry.outcome === "pending" && entry.data.by === by)) {
      await ctx.journal.settle(key, {
        outcome: "suppressed",
        reason: error instanceof NotInstalled ? "no_admin_access" : "order_unavailable",
      });
    }
    ctx.logger.warn("shopify_order_unavailable", { kind, message: error.message });
    return null;
  }
}

async function onOrderCreated(ctx: Ctx, delivery: Delivery) {
  const payload = parse(ctx, OrderPayload, delivery.body, "orders/create");
  if (!payload) return;
  const order = orderFromWebhook(payload);
  const mine = version(1, timeOf(delivery, payload.updated_at, payload.created_at));
  const stored = await ctx.journal.advance(`order:${order.id}`, mine);
  const cod = isCashOnDelivery(order, ctx.config) &&
    ctx.config.notifications.cod_confirmation.enabled;
  const kind: Notification = cod ? "cod_confirmation" : "order_confirmation";
  await notify(ctx, {
    by: String(delivery.id),
    kind,
    key: `${kind}:${order.id}`,
    order,
    suppress: stored > mine || order.cancelled ? "stale" : null,
    components: cod ? (e164) => codButtons(ctx, order.id, e164) : undefined,
  });
}

async function onOrderCancelled(ctx: Ctx, delivery: Delivery) {
  const payload = parse(ctx, OrderPayload, delivery.body, "orders/cancelled");
  if (!payload) return;
  const order: OrderInfo = orderFromWebhook(payload);
  const mine = version(2, timeOf(delivery, payload.updated_at));
  const stored = await ctx.journal.advance(`order:${order.id}`, mine);
  // the customer cancelled it on WhatsApp and was told so there already
  const answer = await ctx.journal.get(`cod_answer:${order.id}`);
  await notify(ctx, {
    by: String(delivery.id),
    kind: "cancellation",
    key: `cancellation:${order.id}`,
    order,
    suppress: stored > mine
      ? "stale"
      : answer?.data.action === "cancel"
      ? "cancelled_by_customer"
      : null,
  });
}

async function onFulfillment(ctx: Ctx, delivery: Delivery, topic: string) {
  const f = parse(ctx, FulfillmentPayload, delivery.body, topic);
  if (!f) return;
  if (/^(cancelled|error|failure)$/i.test(f.status ?? "")) return;
  const tracking = {
    trackingCompany: f.tracking_company,
    trackingNumber: f.tracking_number ?? f.tracking_numbers[0] ?? null,
    trackingUrl: f.tracking_url ?? f.tracking_urls[0] ?? null,
  };
  // a shipping update is about its tracking: without it, wait for the update that adds it
  if (!tracking.trackingNumber && !tracking.trackingUrl) return;
  const at = timeOf(delivery, f.updated_at, f.created_at);
  const order = await ctx.journal.advance(`order:${f.order_id}`, version(1, at));
  const mine = version(1, at);
  const fulfillment = await ctx.journal.advance(`fulfillment:${f.id}`, mine);
  const key = `shipping_update:${f.order_id}:${f.id}`;
  const stale = stageOf(order) >= 2 || fulfillment > mine;
  if (!ctx.config.notifications.shipping_update.enabled) return;
  const info = await orderOr(ctx, "shipping_update", key, f.order_id, String(delivery.id));
  if (!info) return;
  await notify(ctx, {
    by: String(delivery.id),
    kind: "shipping_update",
    key,
    order: info,
    extra: tracking,
    suppress: stale ? "stale" : null,
  });
}

const EVENT_STAGES: Record<string, [Notification, number]> = {
  out_for_delivery: ["out_for_delivery", 2],
  delivered: ["delivered", 3],
};

async function onFulfillmentEvent(ctx: Ctx, delivery: Delivery) {
  const e = parse(ctx, FulfillmentEventPayload, delivery.body, "fulfillment_events/create");
  if (!e) return;
  const found = EVENT_STAGES[(e.status ?? "").toLowerCase()];
  if (!found) return;
  const [kind, stage] = found;
  const at = timeOf(delivery, e.happened_at, e.updated_at, e.created_at);
  const order = await ctx.journal.advance(`order:${e.order_id}`, version(1, at));
  const mine = version(stage, at);
  const fulfillment = await ctx.journal.advance(`fulfillment:${e.fulfillment_id}`, mine);
  const key = `${kind}:${e.order_id}:${e.fulfillment_id}`;
  if (!ctx.config.notifications[kind].enabled) return;
  const info = await orderOr(ctx, kind, key, e.order_id, String(delivery.id));
  if (!info) return;
  const stale = stageOf(order) >= 2 || fulfillment > mine;
  await notify(ctx, {
    kind,
    key,
    by: String(delivery.id),
    order: info,
    suppress: stale ? "stale" : null,
  });
}

async function onRefund(ctx: Ctx, delivery: Delivery) {
  const r = parse(ctx, RefundPayload, delivery.body, "refunds/create");
  if (!r) return;
  const refunds = r.transactions.filter((t) =>
    (t.kind ?? "refund").toLowerCase() === "refund" &&
    !/^(failure|error)$/i.test(t.status ?? "")
  );
  const total = refunds.reduce((sum, t) => sum + (Number(t.amount) || 0), 0);
  // a refund of nothing (restocking only) is no news to the customer
  if (!(total > 0)) return;
  const key = `refund:${r.order_id}:${r.id}`;
  if (!ctx.config.notifications.refund.enabled) return;
  const info = await orderOr(ctx, "refund", key, r.order_id, String(delivery.id));
  if (!info) return;
  await notify(ctx, {
    by: String(delivery.id),
    kind: "refund",
    key,
    order: info,
    extra: { refundAmount: total.toFixed(2), refundCurrency: refunds[0]?.currency ?? null },
  });
}

/**
 * `app/uninstalled`: Shopify has already revoked the token, so it is destroyed here and nothing
 * is sent for the shop until it installs the app again (opening the app runs the token exchange
 * anew). The compliance topics still arrive afterwards (`shop/redact` 48 hours later).
 */
async function onUninstalled(ctx: Ctx) {
  await destroyToken(ctx);
  await ctx.state.set(
    "shop",
    {
      status: "uninstalled",
      uninstalled_at: new Date().toISOString(),
    } satisfies ShopState,
  );
  ctx.logger.info("shopify_uninstalled");
}

/**
 * The mandatory compliance topics: each is recorded for the privacy workflow (once per request),
 * and what this plugin itself holds is acted on at once: a customer's journal entries are erased
 * with `customers/redact`, everything of the shop with `shop/redact`.
 */
async function onCompliance(ctx: Ctx, delivery: Delivery, topic: string) {
  const eventId = keptHeader(delivery.headers, HEADER.eventId) ??
    keptHeader(delivery.headers, HEADER.webhookId) ?? String(delivery.id);
  if (topic === "shop/redact") {
    const p = parse(ctx, ShopPrivacyPayload, delivery.body, topic);
    if (!p) return;
    await ctx.privacyRequests.record({
      kind: "erase_all",
      reference: `shop/redact:${p.shop_id ?? ctx.config.shop_domain}`,
      details: { topic, shop_id: p.shop_id, shop_domain: p.shop_domain },
      upstream: { provider: "shopify", topic, payload: p, webhookId: eventId },
    });
    await ctx.journal.forget("all");
    await destroyToken(ctx);
    await ctx.state.delete("shop");
    return;
  }
  const p = parse(ctx, CustomerPrivacyPayload, delivery.body, topic);
  if (!p) return;
  const phone = p.customer?.phone ? normalisePhone(p.customer.phone, null) : null;
  const access = topic === "customers/data_request";
  const reference = access && p.data_request
    ? `customers/data_request:${p.data_request.id}`
    : `${topic}:${p.customer?.id ?? "unknown"}:${eventId}`;
  await ctx.privacyRequests.record({
    kind: access ? "access" : "erasure",
    reference: reference.slice(0, 200),
    phone: phone ?? p.customer?.phone ?? null,
    details: {
      topic,
      shop_id: p.shop_id,
      shop_domain: p.shop_domain,
      customer: p.customer,
      orders: access ? p.orders_requested : p.orders_to_redact,
      data_request_id: p.data_request?.id ?? null,
    },
    // filed with the privacy workflow as a verified request: staff approve and fulfil it there,
    // which erases or exports the customer's WhatsApp contact and this plugin's entries about them
    upstream: { provider: "shopify", topic, payload: p, webhookId: eventId },
  });
  if (!access && phone) await ctx.journal.forget([phone]);
}

export async function handleDelivery(delivery: Delivery, ctx: Ctx): Promise<void> {
  const topic = (keptHeader(delivery.headers, HEADER.topic) ?? "").toLowerCase();
  switch (topic) {
    case "customers/data_request":
    case "customers/redact":
    case "shop/redact":
      return await onCompliance(ctx, delivery, topic);
    case "app/uninstalled":
      return await onUninstalled(ctx);
  }
  const shop = await ctx.state.get<ShopState>("shop");
  // uninstalled: no token, and the merchant no longer wants the app's messages
  if (shop?.status === "uninstalled") return;
  switch (topic) {
    case "orders/create":
      return await onOrderCreated(ctx, delivery);
    case "orders/cancelled":
      return await onOrderCancelled(ctx, delivery);
    case "fulfillments/create":
    case "fulfillments/update":
      return await onFulfillment(ctx, delivery, topic);
    case "fulfillment_events/create":
      return await onFulfillmentEvent(ctx, delivery);
    case "refunds/create":
      return await onRefund(ctx, delivery);
    default:
      ctx.logger.info("shopify_topic_ignored", { topic: topic.slice(0, 60) });
  }
}
