import assert from "node:assert/strict";
import { AppError } from "../../src/core/errors.ts";
import type { PrivacyHook, PrivacyHookSubject } from "../../src/ports/privacy_hooks.ts";
import { countRows, createClientWithPhone, sql, testApp } from "../_support/stack.ts";
import {
  asPrivacyStaff,
  newSubject,
  runDuePrivacyWork,
  uniqueNumber,
} from "../_support/privacy.ts";

/**
 * The intake the Shopify plugin will call for Shopify's mandatory compliance webhooks, tested
 * directly (the plugin does not exist yet), with an example plugin's privacy hook standing in
 * for the plugin's own data: what it keeps per shop and customer, which an access request
 * exports and a redaction erases.
 */
function examplePlugin() {
  const records = new Map<string, Array<{ shop: string; customer: string; note: string }>>();
  const calls: Array<{ op: string; subject: PrivacyHookSubject }> = [];
  const mine = (s: PrivacyHookSubject) =>
    (records.get(s.clientId) ?? []).filter((r) =>
      r.shop === s.shopDomain &&
      (s.shopifyCustomerId === undefined ? true : r.customer === s.shopifyCustomerId)
    );
  const hook: PrivacyHook = {
    id: "example-shop",
    export(subject) {
      calls.push({ op: "export", subject });
      return Promise.resolve(mine(subject));
    },
    erase(subject) {
      calls.push({ op: "erase", subject });
      const doomed = new Set(mine(subject));
      records.set(
        subject.clientId,
        (records.get(subject.clientId) ?? []).filter((r) => !doomed.has(r)),
      );
      return Promise.resolve({ erased: doomed.size });
    },
  };
  return { hook, records, calls };
}

const shop = "privacy-test-shop.myshopify.com";

Deno.test("Shopify's compliance topics become verified requests of the installation's client, once per webhook, and reach the plugin's privacy hook", async () => {
  const plugin = examplePlugin();
  const composed = await testApp({}, { privacyHooks: [plugin.hook] });
  const privacy = composed.deps.privacy;
  const business = await createClientWithPhone("Shopify merchant");
  const subject = newSubject();
  plugin.records.set(business.clientId, [
    { shop, customer: "7001", note: "order #1001 confirmed on WhatsApp" },
    { shop, customer: "7002", note: "someone else's order" },
  ]);
  // the customer's WhatsApp data with the merchant, by the phone Shopify gives
  await sql("insert into contacts (client_id, wa_id) values ($1, $2)", [
    business.clientId,
    subject.waId,
  ]);

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
  const exported = plugin.calls.find((c) => c.op === "export")!.subject;
  assert.equal(exported.clientId, business.clientId);
  assert.equal(exported.shopDomain, shop);
  assert.equal(exported.shopifyCustomerId, "7001");
  assert.equal(exported.email, "ana@example.com");
  assert.equal(exported.waId, subject.waId);
  const [part] = await sql<{ status: string; result: Record<string, number> }>(
    "select status, result from privacy_request_parts where request_id = $1",
    [first.requestId],
  );
  assert.equal(part.status, "done");
  assert.equal(part.result.plugins, 1);

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
  assert.deepEqual(plugin.records.get(business.clientId)!.map((r) => r.customer), ["7002"]);
  assert.equal(await countRows("contacts", business.clientId, `wa_id = '${subject.waId}'`), 0);

  // shop/redact: everything the plugin keeps for the shop
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
  assert.deepEqual(plugin.records.get(business.clientId), []);
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
