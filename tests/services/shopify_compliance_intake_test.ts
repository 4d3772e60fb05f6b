import assert from "node:assert/strict";
import * as z from "zod";
import { AppError } from "../../src/core/errors.ts";
import { definePlugin } from "../../src/plugin_api/mod.ts";
import { countRows, createClientWithPhone, sql, testApp } from "../_support/stack.ts";
import {
  asPrivacyStaff,
  newSubject,
  runDuePrivacyWork,
  uniqueNumber,
} from "../_support/privacy.ts";

/**
 * The intake the Shopify plugin will call for Shopify's mandatory compliance webhooks, tested
 * directly (the plugin does not exist yet), with a plugin that keeps notes about a shop's
 * customers in its plugin state standing in for the plugin's own data: an access request exports
 * them and a redaction erases them, through the plugin layer's privacy hooks (which name the
 * customer by their WhatsApp contact).
 */
const notes = definePlugin({
  id: "shop-notes",
  version: "0.1.0",
  name: "Shop notes (test)",
  enabledByDefault: true,
  config: z.object({}),
  privacy: {
    async export(contact, ctx) {
      return { notes: await ctx.state.get(`notes:${contact.id}`) };
    },
    async erase(contact, ctx) {
      await ctx.state.delete(`notes:${contact.id}`);
    },
  },
});

const notesOf = async (clientId: string) => (await sql<{ key: string; value: unknown }>(
  "select key, value from plugin_state where client_id = $1 and plugin_id = 'shop-notes' order by key",
  [clientId],
));

const shop = "privacy-test-shop.myshopify.com";

Deno.test("Shopify's compliance topics become verified requests of the installation's client, once per webhook, and reach the plugins' privacy hooks", async () => {
  const composed = await testApp({}, { plugins: [notes] });
  const privacy = composed.deps.privacy;
  const business = await createClientWithPhone("Shopify merchant");
  const subject = newSubject();
  // the customer's WhatsApp contact with the merchant, by the phone Shopify gives, and another's
  const [customer, other] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id) values ($1, $2), ($1, $3) returning id",
    [business.clientId, subject.waId, uniqueNumber()],
  );
  await sql(
    `insert into plugin_state (client_id, plugin_id, key, value)
     values ($1, 'shop-notes', $2, '"order #1001 confirmed on WhatsApp"'),
            ($1, 'shop-notes', $3, '"someone else''s order"')`,
    [business.clientId, `notes:${customer.id}`, `notes:${other.id}`],
  );

  const payload = {
    shop_id: 954889,
    shop_domain: shop,
    customer: { id: 7001, email: "ana@example.com", phone: `+${subject.waId}` },
    orders_requested: [299938, 280263],
    data_request: { id: 9999 },
  };
  const first = await privacy.intake.fileShopifyCompliance({
    clientId: business.clientId,
    topic: "customers/data_request",
    payload,
    webhookId: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  });
  assert.equal(first.created, true);
  const retry = await privacy.intake.fileShopifyCompliance({
    clientId: business.clientId,
    topic: "customers/data_request",
    payload,
    webhookId: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  });
  assert.deepEqual(retry, { ...first, created: false }, "Shopify's retry files nothing new");

  const [request] = await sql<Record<string, unknown>>(
    `select type, channel, status, verification_method, filing_client_id,
            extract(day from due_at - received_at)::int as days
       from privacy_requests where id = $1`,
    [first.requestId],
  );
  assert.deepEqual(request, {
    type: "access",
    channel: "shopify",
    status: "verified",
    verification_method: "shopify_signature",
    filing_client_id: business.clientId,
    days: 30,
  });
  const everything = JSON.stringify(
    await sql("select * from privacy_requests where id = $1", [
      first.requestId,
    ]),
  );
  assert.ok(!everything.includes("ana@example.com") && !everything.includes(subject.waId));

  await asPrivacyStaff([
    ["select privacy.approve_request($1)", [first.requestId]],
    ["select privacy.run_fulfilment($1)", [first.requestId]],
  ]);
  await runDuePrivacyWork(composed);
  const [part] = await sql<{ status: string; result: Record<string, number> }>(
    "select status, result from privacy_request_parts where request_id = $1",
    [first.requestId],
  );
  assert.equal(part.status, "done");
  assert.equal(part.result.plugins, 1);
  const [exported] = await sql<{ id: string }>(
    "select id from privacy_exports where request_id = $1",
    [first.requestId],
  );
  const document = await privacy.downloadExport(
    /\/privacy\/exports\/(.+)$/.exec(
      (await privacy.getForClient(business.clientId, first.requestId))!.exports
        .find((e) => e.id === exported.id)!.url!,
    )![1],
  );
  assert.deepEqual(JSON.parse(document!).plugins, {
    "shop-notes": [{
      contact_id: customer.id,
      data: { notes: "order #1001 confirmed on WhatsApp" },
    }],
  });

  // customers/redact: the plugin erases its records of that customer, the core the contact
  const redact = await privacy.intake.fileShopifyCompliance({
    clientId: business.clientId,
    topic: "customers/redact",
    payload: { shop_id: 954889, shop_domain: shop, customer: payload.customer },
    webhookId: "c0ffee00-0000-4000-8000-000000000001",
  });
  await asPrivacyStaff([
    ["select privacy.approve_request($1)", [redact.requestId]],
    ["select privacy.run_fulfilment($1)", [redact.requestId]],
  ]);
  await runDuePrivacyWork(composed);
  assert.deepEqual(
    (await notesOf(business.clientId)).map((n) => n.key),
    [`notes:${other.id}`],
    "the plugin erased its notes on the customer, and only those",
  );
  assert.equal(await countRows("contacts", business.clientId, `wa_id = '${subject.waId}'`), 0);

  // shop/redact: a request about the whole shop names no contact, so it reaches no plugin's
  // hook (those are per contact): the Shopify plugin erases its own shop data when it gets the
  // topic; the request is recorded and completed with its proof
  const shopRedact = await privacy.intake.fileShopifyCompliance({
    clientId: business.clientId,
    topic: "shop/redact",
    payload: { shop_id: 954889, shop_domain: shop },
    webhookId: "c0ffee00-0000-4000-8000-000000000002",
  });
  await asPrivacyStaff([
    ["select privacy.approve_request($1)", [shopRedact.requestId]],
    ["select privacy.run_fulfilment($1)", [shopRedact.requestId]],
  ]);
  await runDuePrivacyWork(composed);
  assert.equal((await notesOf(business.clientId)).length, 1);
  const [shopRow] = await sql<{ subject_kind: string; status: string }>(
    "select subject_kind, status from privacy_requests where id = $1",
    [shopRedact.requestId],
  );
  assert.deepEqual(shopRow, { subject_kind: "shopify_shop", status: "completed" });
  composed.bell?.close();
});

Deno.test("a compliance body that is not as Shopify documents it is refused before anything is stored", async () => {
  const composed = await testApp();
  const business = await createClientWithPhone("Shopify merchant 2");
  for (
    const [topic, payload] of [
      ["customers/redact", { shop_domain: "evil.example.com", customer: { id: 1 } }],
      ["shop/redact", {}],
      ["customers/data_request", "not json"],
    ] as const
  ) {
    await assert.rejects(
      composed.deps.privacy.intake.fileShopifyCompliance({
        clientId: business.clientId,
        topic,
        payload,
        webhookId: uniqueNumber(),
      }),
      (e) => e instanceof AppError && e.code === "invalid_payload",
    );
  }
  const [{ n }] = await sql<{ n: number }>(
    "select count(*)::int as n from privacy_requests where filing_client_id = $1",
    [business.clientId],
  );
  assert.equal(n, 0);
  composed.bell?.close();
});
