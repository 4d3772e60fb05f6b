import * as z from "zod";

/** A shop's permanent domain, the routing key of its installation (and a webhook's tenant key). */
export const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$/;

/** The notifications a merchant turns on, each mapped to one approved template. */
export const NOTIFICATIONS = [
  "order_confirmation",
  "cod_confirmation",
  "shipping_update",
  "out_for_delivery",
  "delivered",
  "cancellation",
  "refund",
] as const;
export type Notification = (typeof NOTIFICATIONS)[number];

/**
 * What a template's body parameters ({{1}}, {{2}}, …) can be filled with, in the order a merchant
 * lists them. Values come from the order (and its fulfillment or refund); one the event does not
 * carry is sent as "-", since Meta refuses an empty parameter.
 */
export const PARAMETERS = [
  "customer_first_name",
  "customer_name",
  "order_name",
  "order_total",
  "items",
  "order_status_url",
  "tracking_company",
  "tracking_number",
  "tracking_url",
  "refund_amount",
] as const;
export type Parameter = (typeof PARAMETERS)[number];

/** Meta's template names: lowercase letters, digits and underscores */
const TemplateName = z.string().regex(/^[a-z0-9_]{1,512}$/, {
  error: "Must be a template name: lowercase letters, digits and underscores",
});
/** Meta's language codes: `en`, `en_US`, `pt_BR`, `zh_Hant` … */
const Language = z.string().regex(/^[a-z]{2,3}(?:_[A-Za-z]{2,4})?$/, {
  error: "Must be a template language code such as en, en_US or pt_BR",
});
const Tag = z.string().trim().min(1).max(40).regex(/^[^,]+$/, {
  error: "Must not contain a comma",
});
const Reply = z.string().trim().min(1).max(1024);

const notification = (template: string, parameters: Parameter[]) =>
  z.object({
    enabled: z.boolean().default(true).describe("Send this notification"),
    template: TemplateName.default(template).describe("The approved template's name"),
    language: Language.default("en").describe("The template's language code"),
    parameters: z.array(z.enum(PARAMETERS)).max(10).default(parameters).describe(
      "What fills the template's body parameters {{1}}, {{2}}, … in order",
    ),
  }).prefault({});

export const ShopifyConfig = z.object({
  shop_domain: z.string().trim().toLowerCase().regex(SHOP_DOMAIN, {
    error: "Must be the shop's permanent domain, such as my-shop.myshopify.com",
  }).describe("The shop's permanent *.myshopify.com domain (prove it with the link code)"),
  default_country: z.string().regex(/^[A-Z]{2}$/, {
    error: "Must be an ISO 3166-1 alpha-2 code such as IN",
  }).optional().describe(
    "The country of numbers written without a country code when the address has none",
  ),
  consent: z.object({
    opt_in_attribute: z.string().trim().min(1).max(100).default("whatsapp_opt_in").describe(
      "The checkout note attribute whose value true, yes, on or 1 records the customer's opt-in",
    ),
    order_implied: z.boolean().default(false).describe(
      "Treat placing an order as consent to its transactional notifications (the merchant's " +
        "choice and responsibility; recorded as such on every message it allows)",
    ),
  }).prefault({}),
  cod: z.object({
    gateways: z.array(z.string().trim().min(1).max(100)).max(20).default([]).describe(
      "More payment gateway names that mean cash on delivery (besides those naming it)",
    ),
    confirmed_tag: Tag.default("cod-confirmed").describe("The tag a confirmed order gets"),
    cancelled_tag: Tag.default("cod-cancelled").describe("The tag a refused order gets"),
    on_cancel: z.enum(["tag", "cancel_order"]).default("tag").describe(
      "What the customer's Cancel does: tag the order, or tag and cancel it",
    ),
    confirmed_reply: Reply.default("Thank you, your order {order} is confirmed.").describe(
      "The acknowledgement of Confirm ({order} is the order's name)",
    ),
    cancelled_reply: Reply.default("Your order {order} has been cancelled.").describe(
      "The acknowledgement of Cancel ({order} is the order's name)",
    ),
  }).prefault({}),
  notifications: z.object({
    order_confirmation: notification("order_confirmation", [
      "customer_first_name",
      "order_name",
      "order_total",
    ]),
    cod_confirmation: notification("cod_confirmation", [
      "customer_first_name",
      "order_name",
      "order_total",
    ]),
    shipping_update: notification("shipping_update", [
      "customer_first_name",
      "order_name",
      "tracking_company",
      "tracking_number",
      "tracking_url",
    ]),
    out_for_delivery: notification("out_for_delivery", ["customer_first_name", "order_name"]),
    delivered: notification("order_delivered", ["customer_first_name", "order_name"]),
    cancellation: notification("order_cancelled", ["customer_first_name", "order_name"]),
    refund: notification("order_refunded", ["customer_first_name", "order_name", "refund_amount"]),
  }).prefault({}),
});
export type Config = z.output<typeof ShopifyConfig>;
export type NotificationSettings = Config["notifications"][Notification];
