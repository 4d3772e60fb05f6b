import { definePlugin } from "../../src/plugin_api/mod.ts";
import { appRoutes } from "./app/routes.tsx";
import { buttonPayload, onButtonReply } from "./cod.ts";
import { ShopifyConfig } from "./config.ts";
import { checkLinkCode } from "./session.ts";
import { handleDelivery } from "./topics.ts";
import {
  configured,
  ENV,
  KEPT_HEADERS,
  NOT_CONFIGURED,
  secretsOf,
  verifyDelivery,
} from "./webhook.ts";

/**
 * Shopify order notifications on WhatsApp, as a Shopify app merchants install: order and
 * cash-on-delivery confirmations (Confirm / Cancel buttons that tag the order), shipping updates
 * with tracking, out for delivery, delivered, cancellations and refunds, each mapped to the
 * merchant's approved template, sent once, only with consent, to a number normalised with the
 * address' country; and a page in the Shopify admin to set it up and see what was sent.
 * plugins/shopify/README.md is the merchant's and operator's guide.
 */
export const shopify = definePlugin({
  id: "shopify",
  version: "1.0.0",
  name: "Shopify order notifications",
  description: "Order, cash-on-delivery, shipping, delivery, cancellation and refund " +
    "notifications for a Shopify shop, with consent, deduplication and a merchant page in the " +
    "Shopify admin.",
  config: ShopifyConfig,
  secrets: ["link_code"],
  // optional: a deployment without a Shopify app still starts; there the plugin refuses every
  // webhook, link and page, saying why (src/config/env.ts refuses a key without its secret)
  optionalEnv: [
    ENV.apiKey,
    ENV.apiSecret,
    ENV.previousSecret,
    ENV.apiBaseUrl,
    ENV.apiVersion,
    ENV.publicBaseUrl,
  ],
  upstreams: ["*.myshopify.com"],
  upstreamsFromEnv: [ENV.apiBaseUrl],
  routingKey: {
    fromConfig: (config) => config.shop_domain,
    // only someone who can open the app in the shop's admin sees its link code
    verify: (shop, ctx) =>
      configured(ctx.env)
        ? checkLinkCode(ctx.secrets.link_code, shop, secretsOf(ctx.env))
        : Promise.resolve(NOT_CONFIGURED),
  },
  webhooks: { verify: verifyDelivery, keepHeaders: KEPT_HEADERS, handle: handleDelivery },
  on: {
    "message.received": {
      // every inbound message of the client passes here: a type check and a prefix, no more
      filter: (data) => buttonPayload(data) !== null,
      handle: onButtonReply,
    },
  },
  routes: appRoutes,
  privacy: {
    async export(contact, ctx) {
      if (!contact.waId) return { notifications: [] };
      return {
        notifications: (await ctx.journal.about(contact.waId)).map((e) => ({
          kind: e.kind,
          order: e.subject,
          outcome: e.outcome,
          reason: e.reason,
          message_id: e.messageId,
          message_status: e.messageStatus,
          at: e.createdAt,
        })),
      };
    },
    async erase(contact, ctx) {
      if (contact.waId) await ctx.journal.forget([contact.waId]);
    },
  },
  timeoutMs: 20_000,
  maxAttempts: 8,
});
