import assert from "node:assert/strict";
import { PROPOSALS } from "../../../plugins/shopify/templates.ts";
import { APPROVED_PROPOSALS } from "../../../plugins/shopify/templates.ts";
import { ShopifyConfig } from "../../../plugins/shopify/config.ts";
import { templateDefinitionProblems, templateSlots } from "../../../src/core/whatsapp/templates.ts";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql } from "../../_support/stack.ts";

const pageToken = (html: string) => /name="page_token" value="([^"]+)"/.exec(html)?.[1] ?? "";
const attr = (html: string, selector: RegExp) => selector.exec(html)?.[1] ?? null;
/** the options of a notification's template picker: value, and whether it is selected */
function pickerOf(html: string, notification: string): Array<[string, boolean]> {
  const select = new RegExp(`<select name="${notification}\\.template"[^>]*>(.*?)</select>`, "s")
    .exec(html)?.[1] ?? "";
  return [...select.matchAll(/<option value="([^"]+)"( selected="")?/g)].map((
    m,
  ) => [m[1], Boolean(m[2])]);
}

Deno.test("each proposed template fits its notification's default mapping and passes Meta's rules", () => {
  const config = ShopifyConfig.parse({ shop_domain: "x.myshopify.com" });
  for (const [n, proposal] of Object.entries(PROPOSALS)) {
    const settings = config.notifications[n as keyof typeof PROPOSALS];
    assert.equal(proposal.category, "UTILITY", n);
    assert.equal(settings.template, proposal.name, `${n}: the default template is the proposal`);
    assert.equal(settings.language, proposal.language, n);
    assert.deepEqual(
      templateDefinitionProblems({ ...proposal, components: [...proposal.components] }),
      [],
      n,
    );
    const slots = templateSlots({
      ...proposal,
      status: "APPROVED",
      parameter_format: "POSITIONAL",
      components: [...proposal.components],
    });
    assert.equal(slots.body.length, settings.parameters.length, `${n}: one variable a parameter`);
  }
  const cod = PROPOSALS.cod_confirmation.components.find((c) => c.type === "BUTTONS") as {
    buttons: Array<{ type: string; text: string }>;
  };
  assert.deepEqual(cod.buttons.map((b) => `${b.type}:${b.text}`), [
    "QUICK_REPLY:Confirm",
    "QUICK_REPLY:Cancel",
  ]);
});

Deno.test("the merchant page picks among approved templates, warns about a configured one that is missing or paused, and submits a proposal in one click", async () => {
  const s = await shopifyChannel({
    templates: [
      ...APPROVED_PROPOSALS.filter((t) =>
        t.name !== "order_refunded" && t.name !== "order_confirmation"
      ).map((t) => t.name === "order_cancelled" ? { ...t, status: "PAUSED" } : t),
      { name: "draft_offer", language: "en", status: "PENDING" },
      {
        name: "shipping_update_v2",
        language: "en_US",
        components: [{ type: "BODY", text: "{{1}} {{2}} {{3}} {{4}} {{5}} shipped." }],
      },
    ],
  });
  try {
    // a notification whose template the account does not hold is refused before any Graph call,
    // and recorded with why
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    const [entry] = await sql<{ outcome: string; reason: string }>(
      "select outcome, reason from plugin_journal where client_id = $1 and kind = 'order_confirmation'",
      [s.ch.clientId],
    );
    assert.deepEqual(entry, { outcome: "suppressed", reason: "template_not_found" });
    assert.deepEqual(s.templatesTo("+919847012345"), []);

    let page = await s.openApp();
    assert.equal(page.status, 200);
    // the picker offers approved templates only: not the pending one, not the paused one
    const shipping = pickerOf(page.html, "shipping_update");
    assert.deepEqual(shipping.filter(([, selected]) => selected), [["shipping_update|en", true]]);
    const offered = shipping.map(([v]) => v);
    assert.ok(offered.includes("shipping_update_v2|en_US"));
    assert.ok(offered.includes("cod_confirmation|en"));
    assert.ok(!offered.includes("draft_offer|en"));
    assert.ok(!offered.includes("order_cancelled|en"));
    // a configured template that cannot be sent stays selected, with the check's warning
    assert.deepEqual(pickerOf(page.html, "cancellation").filter(([, sel]) => sel), [[
      "order_cancelled|en",
      true,
    ]]);
    assert.equal(
      attr(page.html, /data-warning="cancellation" data-reason="([^"]+)"/),
      "template_paused",
    );
    assert.equal(
      attr(page.html, /data-warning="refund" data-reason="([^"]+)"/),
      "template_not_found",
    );
    assert.equal(attr(page.html, /data-warning="shipping_update" data-reason="([^"]+)"/), null);
    // the recent list says why the order's confirmation was not sent
    assert.match(page.html, /data-reason="template_not_found"/);
    // proposals: the state of each, a submit button where the account has none
    assert.equal(attr(page.html, /data-proposal="refund" data-status="([^"]+)"/), "none");
    assert.equal(attr(page.html, /data-proposal="cancellation" data-status="([^"]+)"/), "PAUSED");
    assert.equal(
      attr(page.html, /data-proposal="shipping_update" data-status="([^"]+)"/),
      "APPROVED",
    );

    // picking a template with a different number of variables than the mapping warns of it
    const save = await fetch(`${s.ch.appUrl}/plugins/shopify/app/settings`, {
      method: "POST",
      body: new URLSearchParams({
        shop: s.shop,
        page_token: pageToken(page.html),
        "out_for_delivery.enabled": "on",
        "out_for_delivery.template": "shipping_update_v2|en_US",
        "out_for_delivery.parameters": "customer_first_name, order_name",
      }),
    });
    const saved = await save.text();
    assert.equal(save.status, 200, saved.slice(0, 400));
    assert.equal(
      attr(saved, /data-warning="out_for_delivery" data-reason="([^"]+)"/),
      "template_parameters_mismatch",
    );
    const [{ config }] = await sql<
      { config: { notifications: Record<string, { template: string; language: string }> } }
    >(
      "select config from plugin_installations where client_id = $1 and plugin_id = 'shopify'",
      [s.ch.clientId],
    );
    assert.deepEqual(
      [
        config.notifications.out_for_delivery.template,
        config.notifications.out_for_delivery.language,
      ],
      ["shipping_update_v2", "en_US"],
    );

    // one click submits the refund proposal to Meta (the Graph emulator), pending review
    const submit = (token: string) =>
      fetch(`${s.ch.appUrl}/plugins/shopify/app/templates`, {
        method: "POST",
        body: new URLSearchParams({ shop: s.shop, page_token: token, notification: "refund" }),
      });
    const submitted = await submit(pageToken(saved));
    const after = await submitted.text();
    assert.equal(submitted.status, 200, after.slice(0, 400));
    assert.match(after, /Submitted order_refunded \(en\) to Meta: pending review\./);
    assert.equal(attr(after, /data-proposal="refund" data-status="([^"]+)"/), "PENDING");
    const [stored] = await sql<{ category: string; status: string }>(
      "select category, status from message_templates where client_id = $1 and name = 'order_refunded'",
      [s.ch.clientId],
    );
    assert.equal(stored.category, "UTILITY");
    // the second click finds it there
    const again = await submit(pageToken(after));
    assert.equal(again.status, 409);
    await again.body?.cancel();
    // a post without the page's token submits nothing
    const forged = await fetch(`${s.ch.appUrl}/plugins/shopify/app/templates`, {
      method: "POST",
      body: new URLSearchParams({ shop: s.shop, page_token: "x.y", notification: "delivered" }),
    });
    assert.equal(forged.status, 401);
    await forged.body?.cancel();

    // Meta approves it (the emulator's review, by webhook): the page shows it approved, offers
    // it, and warns no more
    page = await eventually(
      async () => {
        const p = await s.openApp();
        return attr(p.html, /data-proposal="refund" data-status="([^"]+)"/) === "APPROVED" && p;
      },
      "the submitted template approved on the page",
      30_000,
    );
    assert.equal(attr(page.html, /data-warning="refund" data-reason="([^"]+)"/), null);
    assert.ok(pickerOf(page.html, "refund").some(([v, sel]) => v === "order_refunded|en" && sel));
  } finally {
    await s.close();
  }
});
