import assert from "node:assert/strict";
import * as z from "zod";
import { definePlugin, type PluginContext } from "../../src/plugin_api/mod.ts";
import { startChannel } from "../_support/channel.ts";
import { emulatedChannel } from "../_support/emulated_channel.ts";
import { sql } from "../_support/stack.ts";
import { ORDER_UPDATE } from "../_support/templates.ts";

/**
 * A plugin with a merchant page, as the Shopify plugin's template picker will be: `POST /call`
 * runs one capability of the installation's context (only what plugin_api hands a plugin) and
 * answers its result, or what it threw.
 */
const picker = definePlugin({
  id: "template-picker",
  version: "1.0.0",
  name: "Template picker",
  config: z.object({ shop: z.string().optional() }),
  routingKey: { fromConfig: (config) => config.shop ?? null },
  routes: [{
    method: "POST",
    path: "/call",
    async handler(request, host) {
      const { shop, call, args } = await request.json();
      const ctx: PluginContext | null = await host.installation(shop);
      if (!ctx) return Response.json({ thrown: "no installation" }, { status: 404 });
      try {
        if (call === "list") return Response.json(await ctx.templates.list(args));
        if (call === "check") {
          return Response.json(await ctx.templates.check(args.template, args.options));
        }
        if (call === "submit") return Response.json(await ctx.templates.submit(args));
        return Response.json(await ctx.send(args));
      } catch (error) {
        return Response.json({ thrown: (error as Error).message }, { status: 400 });
      }
    },
  }],
});

const COD_CONFIRMATION = {
  name: "cod_confirmation",
  language: "hi",
  status: "PENDING",
  components: [
    { type: "HEADER", format: "IMAGE", example: { header_handle: ["4::aW1n"] } },
    { type: "BODY", text: "{{1}}, confirm order {{2}}?" },
    {
      type: "BUTTONS",
      buttons: [
        { type: "QUICK_REPLY", text: "Confirm" },
        { type: "URL", text: "Track", url: "https://example.com/t/{{1}}" },
      ],
    },
  ],
};

async function installedPicker(
  templates = [ORDER_UPDATE, COD_CONFIRMATION],
  emulated = false,
) {
  const ch = emulated
    ? (await emulatedChannel({}, {}, { templates, plugins: { plugins: [picker] } })).ch
    : await startChannel({ templates, plugins: { plugins: [picker] } });
  const shop = `shop-${crypto.randomUUID().slice(0, 8)}.example.com`;
  const put = await ch.api("/v1/plugins/template-picker", {
    method: "PUT",
    body: JSON.stringify({ config: { shop } }),
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const call = async (name: string, args: unknown) => {
    const res = await fetch(`${ch.appUrl}/plugins/template-picker/call`, {
      method: "POST",
      body: JSON.stringify({ shop, call: name, args }),
    });
    return { status: res.status, body: await res.json() };
  };
  return { ch, call };
}

Deno.test("a plugin lists its client's templates with the parameters a send fills, filters and pages them, and sees no other client's", async () => {
  const { ch, call } = await installedPicker();
  const other = await installedPicker([{ name: "theirs_only" }]);
  try {
    const all = (await call("list", {})).body;
    assert.deepEqual(
      all.map((t: { name: string; language: string; status: string }) =>
        `${t.name}/${t.language}/${t.status}`
      ),
      ["cod_confirmation/hi/PENDING", "order_update/en_US/APPROVED"],
    );
    assert.equal(all[1].wabaId, ch.wabaId);
    assert.deepEqual(all[1].parameters, {
      format: "POSITIONAL",
      header: null,
      body: ["1"],
      buttons: [],
      count: 1,
    });
    assert.deepEqual(all[0].parameters, {
      format: "POSITIONAL",
      header: { type: "image" },
      body: ["1", "2"],
      buttons: [{ index: 1, subType: "url" }],
      count: 4,
    });

    const approved = (await call("list", { status: "APPROVED" })).body;
    assert.deepEqual(approved.map((t: { name: string }) => t.name), ["order_update"]);
    const page = (await call("list", { limit: 1, after: all[0] })).body;
    assert.deepEqual(page.map((t: { name: string }) => t.name), ["order_update"]);
    // values that are no template's never reach PostgREST's filter syntax
    const hostile = await call("list", {
      after: { name: "x,id.gt.0)", language: "en", id: all[0].id },
    });
    assert.deepEqual(hostile, {
      status: 400,
      body: { thrown: "`after` is not a template of this list" },
    });
    assert.equal((await call("list", { limit: 201 })).status, 400);

    const theirs = (await other.call("list", {})).body;
    assert.deepEqual(theirs.map((t: { name: string }) => t.name), ["theirs_only"]);
  } finally {
    await ch.close();
    await other.ch.close();
  }
});

Deno.test("a plugin checks a template send as the pipeline does, and a send the check refuses answers its reason and queues nothing", async () => {
  const { ch, call } = await installedPicker();
  try {
    const body = (name: string) => [{ type: "body", parameters: [{ type: "text", text: name }] }];
    assert.deepEqual(
      (await call("check", {
        template: { name: "order_update", language: "en_US", components: body("Ana") },
      })).body,
      { ok: true },
    );
    const missing = (await call("check", { template: { name: "order_update", language: "en_US" } }))
      .body;
    assert.equal(missing.reason, "template_parameters_mismatch");
    assert.match(missing.message, /order_update/);
    const pending =
      (await call("check", { template: { name: "cod_confirmation", language: "hi" } }))
        .body;
    assert.equal(pending.reason, "template_not_approved");
    const wrongLanguage = (await call("check", {
      template: { name: "order_update", language: "pt_BR", components: body("Ana") },
    })).body;
    assert.equal(wrongLanguage.reason, "template_not_found");
    assert.match(wrongLanguage.message, /en_US/);

    const refused = await call("send", {
      to: "+44 7700 900801",
      template: { name: "cod_confirmation", language: "hi" },
    });
    assert.deepEqual(refused, {
      status: 200,
      body: { sent: false, reason: "template_not_approved" },
    });
    const sent = await call("send", {
      to: "+44 7700 900801",
      template: { name: "order_update", language: "en_US", components: body("Ana") },
    });
    assert.equal(sent.body.sent, true, JSON.stringify(sent.body));
    const rows = await sql<{ id: string }>("select id from messages where client_id = $1", [
      ch.clientId,
    ]);
    assert.deepEqual(rows.map((r) => r.id), [sent.body.messageId], "only the approved one queued");
  } finally {
    await ch.close();
  }
});

Deno.test("a plugin submits a template it proposes: checked against Meta's rules first, stored as Meta answers, audited as the plugin's; a second submission is refused", async () => {
  // Meta's side is the Graph emulator, which reviews templates as Meta does
  const { ch, call } = await installedPicker([ORDER_UPDATE], true);
  try {
    const proposal = {
      name: "shipping_update",
      language: "en",
      category: "UTILITY",
      components: [{
        type: "BODY",
        text: "Hi {{1}}, order {{2}} is on its way.",
        example: { body_text: [["Ana", "#1001"]] },
      }],
    };
    const broken = (await call("submit", {
      ...proposal,
      components: [{ type: "BODY", text: "{{1}} starts the body" }],
    })).body;
    assert.equal(broken.submitted, false);
    assert.equal(broken.reason, "invalid_template");
    assert.ok(broken.problems.length >= 1, JSON.stringify(broken));
    assert.ok(broken.problems.every((p: { path: string }) => p.path.startsWith("components")));
    const hostile = (await call("submit", { ...proposal, components: [null, 7] })).body;
    assert.equal(hostile.reason, "invalid_template");
    assert.equal(
      (await call("submit", { ...proposal, name: "Not A Name" })).body.problems[0].path,
      "name",
    );
    assert.equal(
      (await sql("select 1 from message_templates where client_id = $1 and name = $2", [
        ch.clientId,
        "shipping_update",
      ])).length,
      0,
      "nothing stored or sent to Meta for a refused proposal",
    );

    const done = (await call("submit", proposal)).body;
    assert.equal(done.submitted, true, JSON.stringify(done));
    assert.equal(done.template.status, "PENDING");
    assert.equal(done.template.wabaId, ch.wabaId);
    assert.deepEqual(done.template.parameters.body, ["1", "2"]);
    const listed = (await call("list", { name: "shipping_update" })).body;
    assert.deepEqual(listed.map((t: { id: string }) => t.id), [done.template.id]);
    const audit = await sql<{ actor: string; action: string }>(
      "select actor, action from audit_log where client_id = $1 and target_id = $2",
      [ch.clientId, done.template.id],
    );
    assert.deepEqual(audit, [{ actor: "plugin:template-picker", action: "template.created" }]);

    const again = (await call("submit", proposal)).body;
    assert.equal(again.submitted, false);
    assert.equal(again.reason, "template_exists");
  } finally {
    await ch.close();
  }
});
