import assert from "node:assert/strict";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql } from "../../_support/stack.ts";

/**
 * The first acceptance point, end to end on the test stack: a signed COD orders/create
 * whose only phone is "098470 12345" in an Indian shipping address, with the opt-in attribute.
 */
Deno.test("an Indian COD order gets exactly one confirmation at +919847012345 whatever the redeliveries, and Confirm tags the order once", async () => {
  const s = await shopifyChannel();
  try {
    const created = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      cod: true,
      opt_in: true,
    });
    assert.equal(created.deliveries.length, 1);
    assert.equal(created.deliveries[0].status, 200);
    const webhookId = created.deliveries[0].webhook_id;
    await s.settled();

    // the same delivery three more times, and the same event under a second delivery id
    for (let i = 0; i < 3; i++) {
      assert.equal((await s.control("/redeliver", { webhook_id: webhookId })).status, 200);
    }
    assert.equal(
      (await s.control("/redeliver", { webhook_id: webhookId, new_webhook_id: true })).status,
      200,
    );
    await s.settled();

    const sent = s.templatesTo("+919847012345");
    assert.equal(sent.length, 1, JSON.stringify(sent.map((m) => m.body)));
    const template = sent[0].body.template as {
      name: string;
      language: { code: string };
      components: Array<
        { type: string; sub_type?: string; parameters: Array<Record<string, string>> }
      >;
    };
    assert.equal(template.name, "cod_confirmation");
    assert.deepEqual(
      template.components[0].parameters.map((p) => p.text),
      ["Asha", created.order.name, "₹1,499.00"],
    );
    const buttons = template.components.filter((c) => c.type === "button");
    assert.deepEqual(buttons.map((b) => b.sub_type), ["quick_reply", "quick_reply"]);
    const confirm = buttons[0].parameters[0].payload;
    assert.match(confirm, /^shopify-cod:/);
    assert.ok(confirm.length <= 128, `a short payload (${confirm.length})`);

    // the customer taps Confirm (twice: a second tap changes nothing)
    for (let i = 0; i < 2; i++) {
      await fetch(`${s.emulator.url}/__emulator/inbound`, {
        method: "POST",
        body: JSON.stringify({
          phone_number_id: s.ch.phoneNumberId,
          from: "919847012345",
          message: {
            type: "button",
            button: { payload: confirm, text: "Confirm" },
            context: { from: "15550001111", id: sent[0].wamid },
          },
        }),
      }).then((r) => r.body?.cancel());
    }
    await eventually(async () => {
      await s.ch.idle();
      return (s.shopify.order(String(created.order.id))?.tags ?? "").includes("cod-confirmed");
    }, "the order to be tagged");
    await eventually(() => Promise.resolve(s.textsTo("+919847012345").length === 1), "the ack");
    await s.ch.idle();
    const tagCalls = s.shopify.calls(s.shop).filter((c) => c.operation === "tagsAdd");
    assert.equal(tagCalls.length, 1, "tagged once");
    assert.deepEqual(tagCalls[0].variables.tags, ["cod-confirmed"]);
    assert.equal(s.shopify.order(String(created.order.id))?.tags, "cod-confirmed");
    assert.equal(
      (s.textsTo("+919847012345")[0].body.text as { body: string }).body,
      `Thank you, your order ${created.order.name} is confirmed.`,
    );

    const entries = await sql<{ key: string; outcome: string; recipient: string }>(
      "select key, outcome, recipient from plugin_journal where client_id = $1 and kind <> 'version' order by key",
      [s.ch.clientId],
    );
    assert.deepEqual(entries, [
      { key: `cod_answer:${created.order.id}`, outcome: "done", recipient: "919847012345" },
      { key: `cod_confirmation:${created.order.id}`, outcome: "sent", recipient: "919847012345" },
    ]);
  } finally {
    await s.close();
  }
});
