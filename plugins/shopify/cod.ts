import type { PluginEvent } from "../../src/plugin_api/mod.ts";
import { AdminApiError, cancelOrder, NotInstalled, tagOrder } from "./admin.ts";
import type { Ctx } from "./notify.ts";

/**
 * Cash-on-delivery confirmation: the template carries two quick-reply buttons whose payloads are
 * tokens of the installation's signer, each naming the order and the answer and signed for this
 * shop and this recipient. A tap comes back as an inbound `button` message: its token opens only
 * for the number it was sent to, so it cannot be forged, nor replayed for another order, another
 * answer or by someone else. The first answer is final: the order is tagged (and cancelled where
 * the merchant chose that) exactly once, and the customer gets one short acknowledgement.
 */

export const PAYLOAD_PREFIX = "shopify-cod:";
type Action = "confirm" | "cancel";
const CODE: Record<Action, string> = { confirm: "c", cancel: "x" };

const context = (shop: string, e164: string) => `cod:${shop}:${e164.replace(/\D/g, "")}`;

export async function codButtons(ctx: Ctx, orderId: string, e164: string) {
  const shop = ctx.config.shop_domain;
  const button = async (index: number, action: Action) => ({
    type: "button",
    sub_type: "quick_reply",
    index: String(index),
    parameters: [{
      type: "payload",
      payload: PAYLOAD_PREFIX +
        await ctx.signer.sign(context(shop, e164), `${CODE[action]}:${orderId}`),
    }],
  });
  return [await button(0, "confirm"), await button(1, "cancel")];
}

/**
 * The payload of a tapped template button, or null (the event's filter: cheap and pure). A
 * `button` message's content is Meta's `button` object: `{payload, text}`.
 */
export function buttonPayload(data: { type: string; content: Record<string, unknown> }) {
  if (data.type !== "button") return null;
  const payload = data.content.payload;
  return typeof payload === "string" && payload.startsWith(PAYLOAD_PREFIX) && payload.length < 512
    ? payload
    : null;
}

export async function onButtonReply(event: PluginEvent<"message.received">, ctx: Ctx) {
  const payload = buttonPayload(event.data);
  const from = event.data.from;
  if (!payload || !from) return;
  const shop = ctx.config.shop_domain;
  const opened = await ctx.signer.open(context(shop, from), payload.slice(PAYLOAD_PREFIX.length));
  const match = opened === null ? null : /^([cx]):([0-9]{1,20})$/.exec(opened);
  if (!match) {
    // a forged payload, one signed for another number, or another installation's
    ctx.logger.warn("shopify_cod_reply_refused", { reason: "the payload does not open" });
    return;
  }
  const orderId = match[2];
  const tapped: Action = match[1] === "c" ? "confirm" : "cancel";
  const key = `cod_answer:${orderId}`;
  const confirmation = await ctx.journal.get(`cod_confirmation:${orderId}`);
  const { created, entry } = await ctx.journal.claim(key, {
    kind: "cod_answer",
    subject: confirmation?.subject ?? `#${orderId}`,
    recipient: from,
    data: { order_id: orderId, action: tapped, event: event.id },
  });
  // the first answer stands: a second tap (the same button, or the other) changes nothing, and
  // only the delivery that claimed the answer acts on it (again, should it be retried)
  if (entry.outcome !== "pending" || (!created && entry.data.event !== event.id)) return;
  const action = entry.data.action === "cancel" ? "cancel" : "confirm";
  const cod = ctx.config.cod;
  try {
    await tagOrder(
      ctx,
      shop,
      orderId,
      action === "confirm" ? cod.confirmed_tag : cod.cancelled_tag,
    );
    if (action === "cancel" && cod.on_cancel === "cancel_order") {
      await cancelOrder(ctx, shop, orderId);
    }
  } catch (error) {
    if (error instanceof NotInstalled || (error instanceof AdminApiError && !error.retryable)) {
      // nothing a retry can change: the merchant sees why on the app's page
      await ctx.journal.settle(key, {
        outcome: "suppressed",
        reason: error instanceof NotInstalled ? "no_admin_access" : "admin_api_refused",
      });
      ctx.logger.warn("shopify_cod_tag_failed", { message: error.message });
      return;
    }
    throw error;
  }
  await ctx.journal.settle(key, { outcome: "done" });
  const name = confirmation?.subject ?? `#${orderId}`;
  const reply = (action === "confirm" ? cod.confirmed_reply : cod.cancelled_reply)
    .replaceAll("{order}", name);
  // the tap opened the 24-hour window: the acknowledgement is a free-form text, sent once
  const sent = await ctx.send({ to: from, text: reply, key: `cod_ack:${orderId}` });
  if (!sent.sent) ctx.logger.warn("shopify_cod_ack_not_sent", { reason: sent.reason });
  ctx.logger.info("shopify_cod_answer", { action });
}
