import type { NewPluginTemplate } from "../../src/plugin_api/mod.ts";
import type { Notification } from "./config.ts";

/**
 * The templates the plugin proposes, one per notification, for the merchant to submit to Meta in
 * one click from the app page (ctx.templates.submit). Each fits the notification's default
 * parameter mapping in config.ts (same name, same number of body variables, in that order), so a
 * merchant who submits them and leaves the mapping alone sends what Meta approved. All are
 * UTILITY: an order's own updates, which Meta prices and reviews as utility messages; every
 * variable has an example, as Meta's review requires.
 */

type Proposal = NewPluginTemplate & { category: "UTILITY"; language: "en" };

const body = (text: string, example: string[]) => ({
  type: "BODY",
  text,
  example: { body_text: [example] },
});

export const PROPOSALS: Record<Notification, Proposal> = {
  order_confirmation: {
    name: "order_confirmation",
    language: "en",
    category: "UTILITY",
    components: [
      body(
        "Hi {{1}}, thank you for your order {{2}} of {{3}}. We will let you know when it ships.",
        ["Asha", "#1001", "₹1,499.00"],
      ),
    ],
  },
  cod_confirmation: {
    name: "cod_confirmation",
    language: "en",
    category: "UTILITY",
    components: [
      body(
        "Hi {{1}}, you placed order {{2}} of {{3}}, to be paid in cash on delivery. Please " +
          "confirm it so that we can ship it.",
        ["Asha", "#1001", "₹1,499.00"],
      ),
      {
        type: "BUTTONS",
        // the plugin signs each button's payload for the order and the action (cod.ts)
        buttons: [{ type: "QUICK_REPLY", text: "Confirm" }, {
          type: "QUICK_REPLY",
          text: "Cancel",
        }],
      },
    ],
  },
  shipping_update: {
    name: "shipping_update",
    language: "en",
    category: "UTILITY",
    components: [
      body(
        "Hi {{1}}, your order {{2}} has shipped with {{3}}, tracking number {{4}}. Follow it " +
          "here: {{5}} and thank you for your order.",
        ["Asha", "#1001", "Delhivery", "DL123456789", "https://track.example.com/DL123456789"],
      ),
    ],
  },
  out_for_delivery: {
    name: "out_for_delivery",
    language: "en",
    category: "UTILITY",
    components: [body("Hi {{1}}, your order {{2}} is out for delivery today.", ["Asha", "#1001"])],
  },
  delivered: {
    name: "order_delivered",
    language: "en",
    category: "UTILITY",
    components: [
      body("Hi {{1}}, your order {{2}} has been delivered. Thank you for shopping with us.", [
        "Asha",
        "#1001",
      ]),
    ],
  },
  cancellation: {
    name: "order_cancelled",
    language: "en",
    category: "UTILITY",
    components: [
      body(
        "Hi {{1}}, your order {{2}} has been cancelled. Reply to this message if you have a " +
          "question.",
        ["Asha", "#1001"],
      ),
    ],
  },
  refund: {
    name: "order_refunded",
    language: "en",
    category: "UTILITY",
    components: [
      body(
        "Hi {{1}}, a refund for your order {{2}} has been issued: {{3}}. It can take a few days " +
          "to reach you.",
        ["Asha", "#1001", "₹499.00"],
      ),
    ],
  },
};

/**
 * The proposals as approved templates: what the local stack's Graph emulator and the tests'
 * template stores are seeded with, so the plugin's default notifications pass the core's check.
 */
export const APPROVED_PROPOSALS = Object.values(PROPOSALS).map((p) => ({
  name: p.name,
  language: p.language,
  category: p.category,
  status: "APPROVED",
  components: p.components.map((c) => ({ ...c })),
}));
