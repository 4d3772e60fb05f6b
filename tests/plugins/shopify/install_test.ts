import assert from "node:assert/strict";
import { sessionToken } from "../../../tools/emulators/shopify.ts";
import { LOCAL_SHOPIFY_API_KEY } from "../../../tools/stack/mod.ts";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql } from "../../_support/stack.ts";

/**
 * Installing and leaving: the link code, Shopify-managed install (token exchange, webhook
 * subscriptions), the session token's checks, token refresh, app/uninstalled and the compliance
 * topics.
 */

Deno.test("a shop is linked only with its own live link code, then the first visit exchanges the session token and subscribes the webhooks", async () => {
  const s = await shopifyChannel({ install: false });
  try {
    const first = await s.openApp();
    assert.equal(first.status, 200);
    assert.match(first.html, /is not linked to a WhatsApp account yet/);
    const code = /id="link-code">([^<]+)</.exec(first.html)![1];
    const put = (shop: string, link_code: string) =>
      s.ch.api("/v1/plugins/shopify", {
        method: "PUT",
        body: JSON.stringify({ config: { shop_domain: shop }, secrets: { link_code } }),
      });
    const other = `other-${crypto.randomUUID().slice(0, 8)}.myshopify.com`;
    for (
      const [shop, linkCode, why] of [
        [other, code, /not this shop's/],
        [
          s.shop,
          `${Math.floor(Date.now() / 1000) + 3600}.AAAAAAAAAAAAAAAAAAAAAA`,
          /not this shop's/,
        ],
        [s.shop, `${Math.floor(Date.now() / 1000) - 10}.${code.split(".")[1]}`, /expired/],
        [s.shop, "nonsense", /link_code/],
      ] as const
    ) {
      const res = await put(shop, linkCode);
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "plugin_verification_failed");
      assert.match(res.body.error.message, why);
    }
    assert.equal((await put(s.shop, code)).status, 200);
    assert.deepEqual(s.shopify.tokenRequests(), [], "no token before the merchant opens the app");

    const second = await s.openApp();
    assert.equal(second.status, 200);
    assert.match(second.html, /Connected: order notifications are on/);
    const requests = s.shopify.tokenRequests();
    assert.deepEqual(requests.map((r) => [r.grant, r.ok]), [
      ["urn:ietf:params:oauth:grant-type:token-exchange", true],
    ]);
    assert.deepEqual(s.shopify.subscriptions(s.shop).map((x) => x.topic).sort(), [
      "app/uninstalled",
      "fulfillment_events/create",
      "fulfillments/create",
      "fulfillments/update",
      "orders/cancelled",
      "orders/create",
      "refunds/create",
    ]);
    assert.ok(
      s.shopify.subscriptions(s.shop).every((x) => x.uri === `${s.ch.appUrl}/webhooks/shopify`),
    );
    // the token is kept sealed: no row holds it in clear
    const rows = await sql<{ key: string; value: unknown }>(
      "select key, value from plugin_state where client_id = $1",
      [s.ch.clientId],
    );
    assert.ok(rows.some((r) => r.key === "~vault:offline-token"));
    assert.ok(!JSON.stringify(rows).includes("shpat_"), "no access token in clear");

    // a later visit exchanges nothing
    await s.openApp();
    assert.equal(s.shopify.tokenRequests().length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("the page refuses a session token that is expired, for another app, signed with another secret, or whose issuer and destination disagree", async () => {
  const s = await shopifyChannel();
  try {
    const base = { apiKey: LOCAL_SHOPIFY_API_KEY, apiSecret: s.apiSecret, shop: s.shop };
    const forged = async (claims: Record<string, unknown>) => {
      const { SignJWT } = await import("jose");
      const now = Math.floor(Date.now() / 1000);
      return await new SignJWT({ dest: `https://${s.shop}`, ...claims })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer(String(claims.iss ?? `https://${s.shop}/admin`))
        .setAudience(LOCAL_SHOPIFY_API_KEY)
        .setSubject("42")
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(new TextEncoder().encode(s.apiSecret));
    };
    const cases: Array<[string, string]> = [
      ["expired", await sessionToken({ ...base, now: Date.now() - 120_000 })],
      ["another app", await sessionToken({ ...base, apiKey: "another-app" })],
      ["another secret", await sessionToken({ ...base, apiSecret: "s".repeat(32) })],
      ["issuer of another shop", await forged({ iss: "https://other.myshopify.com/admin" })],
      ["destination not a shop", await forged({ dest: "https://evil.example.com" })],
      ["not a token", "abc.def.ghi"],
    ];
    for (const [what, token] of cases) {
      const page = await s.openApp(token);
      assert.equal(page.status, 401, what);
      assert.match(page.html, /Open this app from your Shopify admin/, what);
    }
    const bare = await fetch(`${s.ch.appUrl}/plugins/shopify/app`);
    assert.equal(bare.status, 401);
    await bare.body?.cancel();
    // a token a few seconds past its expiry still passes (clock skew), as Shopify's library allows
    const skewed = await sessionToken({ ...base, expiresInSeconds: -5 });
    assert.equal((await s.openApp(skewed)).status, 200);
  } finally {
    await s.close();
  }
});

Deno.test("an expiring offline token is refreshed before it runs out, and a failing Admin API call is retried", async () => {
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    // the stored token expires within the refresh margin: the next call refreshes it first
    const [row] = await sql<{ value: { sealed: string } }>(
      "select value from plugin_state where client_id = $1 and key = '~vault:offline-token'",
      [s.ch.clientId],
    );
    const ctx = (await import("../../../src/services/plugins/context.ts")).pluginContext(
      s.ch.app.deps.plugins.deps,
      s.ch.app.deps.plugins.deps.registry.get("shopify")!,
      s.ch.clientId,
      { config: {}, secrets: {}, signal: new AbortController().signal, sendKey: "t" },
    );
    const token = JSON.parse((await ctx.vault.get("offline-token"))!);
    assert.ok(row.value.sealed && token.refresh_token, "an expiring token with its refresh token");
    await ctx.vault.set(
      "offline-token",
      JSON.stringify({ ...token, expires_at: Date.now() + 60_000 }),
    );
    // the Admin API fails once: the delivery is retried with the inbox's backoff
    s.shopify.failAdminCalls(1);
    await s.control(`/orders/${order.id}/fulfillments`, {
      tracking_company: "Delhivery",
      tracking_number: "DL1",
    });
    // the failed delivery waits with the inbox's backoff; once due, its job runs again (as the
    // sweeper would ring it: this test's only, since the database is shared with other tests)
    const [waiting] = await eventually(async () => {
      await s.ch.idle();
      const rows = await sql<{ id: number }>(
        "select id::int as id from webhook_inbox where provider = 'shopify' and route_key = $1 and processed_at is null and last_error is not null",
        [s.shop],
      );
      return rows.length ? rows : null;
    }, "the failed delivery");
    await eventually(async () => {
      const [row] = await sql<{ due: boolean }>(
        "select next_attempt_at <= now() as due from webhook_inbox where id = $1",
        [waiting.id],
      );
      return row.due;
    }, "the retry to be due");
    await s.ch.app.handleJobs([{ kind: "inbox", id: waiting.id }]);
    await s.settled();
    assert.equal(s.templatesTo("+919847012345").length, 2, "the shipping update after the retry");
    const grants = s.shopify.tokenRequests().map((r) => r.grant);
    assert.deepEqual(grants, [
      "urn:ietf:params:oauth:grant-type:token-exchange",
      "refresh_token",
    ]);
    const [failed] = await sql<{ attempts: number }>(
      "select max(attempts)::int as attempts from webhook_inbox where provider = 'shopify' and route_key = $1",
      [s.shop],
    );
    assert.ok(failed.attempts >= 2, "the fulfillment's delivery was tried again");
  } finally {
    await s.close();
  }
});

Deno.test("app/uninstalled destroys the token and stops every notification; opening the app again reconnects", async () => {
  const s = await shopifyChannel();
  try {
    const uninstalled = await s.control("/uninstall", { shop: s.shop });
    assert.equal(uninstalled.deliveries[0].status, 200);
    await s.settled();
    const vault = await sql(
      "select 1 from plugin_state where client_id = $1 and key = '~vault:offline-token'",
      [s.ch.clientId],
    );
    assert.deepEqual(vault, [], "the token is gone");
    const page = await s.openApp();
    assert.match(page.html, /Connected: order notifications are on/, "a new token exchange");
    assert.equal(s.shopify.tokenRequests().length, 2);
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    assert.equal(s.templatesTo("+919847012345").length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("the compliance topics are recorded once each for the privacy workflow; redact erases what the plugin holds about the customer, shop/redact everything of the shop", async () => {
  const s = await shopifyChannel();
  try {
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.control("/orders", {
      shop: s.shop,
      phone: "+44 7911 123456",
      country: "GB",
      opt_in: true,
    });
    await s.settled();
    const journal = async () =>
      (await sql<{ recipient: string }>(
        "select recipient from plugin_journal where client_id = $1 and recipient is not null order by recipient",
        [s.ch.clientId],
      )).map((r) => r.recipient);
    assert.deepEqual(await journal(), ["447911123456", "919847012345"]);

    const access = await s.control("/compliance", {
      shop: s.shop,
      topic: "customers/data_request",
      customer: { id: 7, email: "asha@example.com", phone: "+919847012345" },
      orders: [1001],
    });
    const redact = await s.control("/compliance", {
      shop: s.shop,
      topic: "customers/redact",
      customer: { id: 7, email: "asha@example.com", phone: "+919847012345" },
    });
    await s.control("/redeliver", {
      webhook_id: redact.deliveries[0].webhook_id,
      new_webhook_id: true,
    });
    await s.control("/redeliver", { webhook_id: access.deliveries[0].webhook_id });
    await s.settled();
    const requests = async () =>
      await sql<{ kind: string; subject_ref: string | null; status: string; details: string }>(
        "select kind, subject_ref, status, details_ciphertext as details from plugin_privacy_requests where client_id = $1 order by received_at",
        [s.ch.clientId],
      );
    const recorded = await requests();
    assert.deepEqual(recorded.map((r) => [r.kind, r.subject_ref, r.status]), [
      ["access", "919847012345", "received"],
      ["erasure", "919847012345", "received"],
    ]);
    assert.ok(recorded.every((r) => !r.details.includes("asha@example.com")), "details sealed");
    assert.deepEqual(await journal(), ["447911123456"], "the customer's entries are erased");

    await s.control("/compliance", { shop: s.shop, topic: "shop/redact" });
    await s.settled();
    assert.deepEqual((await requests()).map((r) => r.kind), ["access", "erasure", "erase_all"]);
    const [left] = await sql<{ n: number }>(
      "select count(*)::int as n from plugin_journal where client_id = $1",
      [s.ch.clientId],
    );
    assert.equal(left.n, 0);
    const vault = await sql(
      "select key from plugin_state where client_id = $1 and key like '~vault:%'",
      [s.ch.clientId],
    );
    assert.deepEqual(vault, []);
  } finally {
    await s.close();
  }
});

Deno.test("the privacy workflows' export lists every notification about a contact with its message's status, and erasure removes them", async () => {
  const { eraseFromPlugins, exportFromPlugins } = await import(
    "../../../src/services/plugins/privacy.ts"
  );
  const s = await shopifyChannel();
  try {
    const { order } = await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    const deps = s.ch.app.deps.plugins.deps;
    const exported = await exportFromPlugins(deps, s.ch.clientId, { waId: "919847012345" });
    const notifications = (exported.shopify as { notifications: Array<Record<string, unknown>> })
      .notifications;
    assert.equal(notifications.length, 1);
    assert.equal(notifications[0].order, order.name);
    assert.equal(notifications[0].outcome, "sent");
    assert.ok(typeof notifications[0].message_status === "string");
    assert.ok(
      (await eraseFromPlugins(deps, s.ch.clientId, { waId: "919847012345" })).includes("shopify"),
    );
    const again = await exportFromPlugins(deps, s.ch.clientId, { waId: "919847012345" });
    assert.deepEqual(again.shopify, { notifications: [] });
  } finally {
    await s.close();
  }
});

Deno.test("customers/redact is filed as a verified request of the shop's client, shown to privacy staff, and fulfilled through the workflow: the customer's WhatsApp contact is erased and the plugin's record settles", async () => {
  const { asPrivacyStaff, runDuePrivacyWork } = await import("../../_support/privacy.ts");
  const s = await shopifyChannel();
  try {
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.settled();
    const contact = () =>
      sql<{ id: string }>("select id from contacts where client_id = $1 and wa_id = $2", [
        s.ch.clientId,
        "919847012345",
      ]);
    assert.equal((await contact()).length, 1, "the order's notification made a contact");

    await s.control("/compliance", {
      shop: s.shop,
      topic: "customers/redact",
      customer: { id: 7, email: "asha@example.com", phone: "+919847012345" },
    });
    await s.settled();
    const [record] = await sql<{ id: string; privacy_request_id: string | null }>(
      "select id, privacy_request_id from plugin_privacy_requests where client_id = $1",
      [s.ch.clientId],
    );
    assert.ok(record.privacy_request_id, "filed with the privacy workflow");
    const [request] = await sql<Record<string, unknown>>(
      "select type, channel, status, verification_method, filing_client_id from privacy_requests where id = $1",
      [record.privacy_request_id],
    );
    assert.deepEqual(request, {
      type: "deletion",
      channel: "shopify",
      status: "verified",
      verification_method: "shopify_signature",
      filing_client_id: s.ch.clientId,
    });

    // privacy staff see it in Studio's views, beside the workflow's own
    const shown = await asPrivacyStaff<Record<string, unknown>>([[
      "select kind, status, request_status, needs_filing from privacy.plugin_requests where id = $1",
      [record.id],
    ]]);
    assert.deepEqual(shown, [{
      kind: "erasure",
      status: "received",
      request_status: "verified",
      needs_filing: false,
    }]);
    const open = await asPrivacyStaff([[
      "select channel from privacy.open_requests where id = $1",
      [record.privacy_request_id],
    ]]);
    assert.deepEqual(open, [{ channel: "shopify" }]);

    // staff approve and fulfil it; the part erases the customer's contact with the merchant
    await asPrivacyStaff([
      ["select privacy.approve_request($1)", [record.privacy_request_id]],
      ["select privacy.run_fulfilment($1)", [record.privacy_request_id]],
    ]);
    await runDuePrivacyWork(s.ch.app);
    assert.deepEqual(await contact(), [], "the WhatsApp contact is erased");
    const [settled] = await sql<{ status: string; handled_by: string }>(
      "select status, handled_by from plugin_privacy_requests where id = $1",
      [record.id],
    );
    assert.deepEqual(settled, { status: "completed", handled_by: "privacy workflow" });
  } finally {
    await s.close();
  }
});
