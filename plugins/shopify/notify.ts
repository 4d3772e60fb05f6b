import type { PluginContext, SendRefusal } from "../../src/plugin_api/mod.ts";
import type { Config, Notification, Parameter } from "./config.ts";
import type { OrderInfo } from "./payloads.ts";
import { pickRecipient } from "./phones.ts";

/**
 * One notification to an order's customer, sent at most once: the journal entry of its business
 * key (notification type, order, and fulfillment or refund where there is one) is claimed before
 * anything is sent, so a second delivery of the event (Shopify's retries, a second subscription, a
 * second delivery id) finds it and stops; the send itself is keyed the same way, so a handler run
 * again after a crash queues nothing twice. What stops a send is recorded on the entry as a
 * suppression with its reason.
 */

export type Ctx = PluginContext<Config>;

/** What the customer agreed to, as far as this send is concerned (kept on the journal entry). */
export type ConsentBasis =
  | "checkout_opt_in"
  | "consent_on_record"
  | "inbound_message"
  | "order_implied";

const TRUTHY = new Set(["true", "yes", "on", "1", "y", "opt_in", "opted_in"]);

function optedInAtCheckout(order: OrderInfo, attribute: string): boolean {
  const name = attribute.toLowerCase();
  return order.attributes.some((a) =>
    a.name.trim().toLowerCase() === name && TRUTHY.has(a.value.trim().toLowerCase())
  );
}

/**
 * Whether the customer may get this order's notifications. WhatsApp needs an opt-in before any
 * business-initiated message, transactional ones included; an opt-out (STOP, the client's API)
 * always wins, even over a later checkout box. An opt-in on record is the checkout attribute, the
 * contact's consent (the client's API or a START keyword), or the customer having written to the
 * business; order-implied consent counts only where the merchant chose it, and says so.
 */
export async function consentFor(
  ctx: Ctx,
  order: OrderInfo,
  e164: string,
): Promise<{ ok: true; basis: ConsentBasis } | { ok: false; reason: "opted_out" | "no_consent" }> {
  const contact = await ctx.contacts.find(e164);
  if (contact?.consent === "opted_out") return { ok: false, reason: "opted_out" };
  if (optedInAtCheckout(order, ctx.config.consent.opt_in_attribute)) {
    return { ok: true, basis: "checkout_opt_in" };
  }
  if (contact?.consent === "opted_in") return { ok: true, basis: "consent_on_record" };
  if (contact?.lastInboundAt) return { ok: true, basis: "inbound_message" };
  if (ctx.config.consent.order_implied) return { ok: true, basis: "order_implied" };
  return { ok: false, reason: "no_consent" };
}

/** Cash on delivery: a pending payment through a gateway that names it, or one the merchant listed. */
export function isCashOnDelivery(order: OrderInfo, config: Config): boolean {
  if (order.financialStatus !== null && order.financialStatus !== "pending") return false;
  const own = new Set(config.cod.gateways.map((g) => g.trim().toLowerCase()));
  return order.gateways.some((g) =>
    /cash\s*on\s*delivery|\bcod\b|contra\s*reembolso|pago\s*contra\s*entrega/i.test(g) ||
    own.has(g.trim().toLowerCase())
  );
}

function locale(order: OrderInfo): string {
  const tag = (order.locale ?? "en").replace("_", "-");
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? "en";
  } catch {
    return "en";
  }
}

/** An amount in the order's currency, written as its customer's locale writes it. */
export function formatMoney(amount: string | null, currency: string | null, order: OrderInfo) {
  const value = Number(amount);
  if (amount === null || !Number.isFinite(value)) return null;
  try {
    return new Intl.NumberFormat(locale(order), {
      style: "currency",
      currency: currency ?? "USD",
    }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency ?? ""}`.trim();
  }
}

export interface Extra {
  trackingCompany?: string | null;
  trackingNumber?: string | null;
  trackingUrl?: string | null;
  refundAmount?: string | null;
  refundCurrency?: string | null;
}

/**
 * A body parameter as Meta takes it: no newlines or tabs, no more than four spaces in a row, and
 * never empty (an empty parameter fails the whole send).
 */
function clean(text: string | null | undefined): string {
  const value = (text ?? "").replace(/[\r\n\t]+/g, " ").replace(/ {4,}/g, "   ").trim();
  return value ? value.slice(0, 1000) : "-";
}

function items(order: OrderInfo): string {
  const shown = order.items.slice(0, 5).map((i) => `${i.quantity} × ${i.title}`);
  const more = order.items.length - shown.length;
  return shown.join(", ") + (more > 0 ? ` +${more}` : "");
}

export function parameterValue(p: Parameter, order: OrderInfo, extra: Extra): string {
  switch (p) {
    case "customer_first_name":
      return clean(order.firstName);
    case "customer_name":
      return clean(order.fullName);
    case "order_name":
      return clean(order.name ?? `#${order.id}`);
    case "order_total":
      return clean(formatMoney(order.total, order.currency, order));
    case "items":
      return clean(items(order));
    case "order_status_url":
      return clean(order.statusUrl);
    case "tracking_company":
      return clean(extra.trackingCompany);
    case "tracking_number":
      return clean(extra.trackingNumber);
    case "tracking_url":
      return clean(extra.trackingUrl);
    case "refund_amount":
      return clean(
        formatMoney(extra.refundAmount ?? null, extra.refundCurrency ?? order.currency, order),
      );
  }
}

/** Why the core refused a send, as a suppression reason. */
const REFUSED: Record<SendRefusal, string> = {
  contact_opted_out: "opted_out",
  invalid_recipient: "invalid_phone",
  outside_customer_service_window: "outside_window",
  unknown_phone_number: "unknown_sender_number",
  phone_number_required: "sender_number_required",
  // the merchant's template is not one the store can send (missing, not approved, paused,
  // disabled, or its parameters do not fit the mapping): the merchant page names which
  template_not_found: "template_not_found",
  template_not_approved: "template_not_approved",
  template_paused: "template_paused",
  template_disabled: "template_disabled",
  template_parameters_mismatch: "template_parameters_mismatch",
};

export interface NotifyRequest {
  kind: Notification;
  key: string;
  /** the delivery this is (its inbox id): only it settles an entry it left pending */
  by: string;
  order: OrderInfo;
  extra?: Extra;
  /**
   * Why not to send, decided from the event (`stale`: older than what was already handled, a
   * retry a day late or an earlier stage): recorded as the suppression's reason
   */
  suppress?: string | null;
  /** more template components for this recipient (the COD buttons), after the body */
  components?: (e164: string) => Promise<Array<Record<string, unknown>>>;
}

/** Sends one notification at most once, or records why not; answers the entry's outcome. */
export async function notify(ctx: Ctx, request: NotifyRequest): Promise<string> {
  const settings = ctx.config.notifications[request.kind];
  // turned off by the merchant: not a suppression of anyone's message, nothing to record
  if (!settings.enabled) return "disabled";
  const { order } = request;
  const subject = (order.name ?? `#${order.id}`).slice(0, 100);
  const suppress = async (
    reason: string,
    recipient?: string,
    data: Record<string, unknown> = {},
  ) => {
    const { created, entry } = await ctx.journal.claim(request.key, {
      kind: request.kind,
      subject,
      recipient,
      data: { order_id: order.id, by: request.by, ...data },
    });
    // settled already; or pending for another delivery of the event, which may be sending it
    // right now: only this delivery's own pending entry (a retry after a crash) is settled here
    if (!created && (entry.outcome !== "pending" || entry.data.by !== request.by)) {
      return entry.outcome;
    }
    await ctx.journal.settle(request.key, { outcome: "suppressed", reason });
    ctx.logger.info("shopify_notification_suppressed", { kind: request.kind, reason });
    return "suppressed";
  };

  if (request.suppress) return await suppress(request.suppress);
  const recipient = pickRecipient(order, ctx.config.default_country);
  if (!recipient.ok) return await suppress(recipient.reason);
  const consent = await consentFor(ctx, order, recipient.e164);
  if (!consent.ok) return await suppress(consent.reason, recipient.e164);

  const { created, entry } = await ctx.journal.claim(request.key, {
    kind: request.kind,
    subject,
    recipient: recipient.e164,
    data: {
      order_id: order.id,
      by: request.by,
      consent: consent.basis,
      phone_from: recipient.source,
    },
  });
  // another delivery of this event got here first: it sent, or decided not to. A stale event's
  // suppression is the exception: an older event may claim the key between this current event's
  // version check and its claim, and must not cost the customer the message
  if (!created && entry.outcome !== "pending" && entry.reason !== "stale") return entry.outcome;

  const components: Array<Record<string, unknown>> = [{
    type: "body",
    parameters: settings.parameters.map((p) => ({
      type: "text",
      text: parameterValue(p, order, request.extra ?? {}),
    })),
  }];
  if (request.components) components.push(...await request.components(recipient.e164));
  const sent = await ctx.send({
    to: recipient.e164,
    key: `notify:${request.key}`.slice(0, 128),
    template: { name: settings.template, language: settings.language, components },
  });
  if (sent.sent) {
    await ctx.journal.settle(request.key, { outcome: "sent", messageId: sent.messageId });
    ctx.logger.info("shopify_notification_sent", { kind: request.kind, consent: consent.basis });
    return "sent";
  }
  await ctx.journal.settle(request.key, { outcome: "suppressed", reason: REFUSED[sent.reason] });
  ctx.logger.info("shopify_notification_refused", { kind: request.kind, reason: sent.reason });
  return "suppressed";
}
