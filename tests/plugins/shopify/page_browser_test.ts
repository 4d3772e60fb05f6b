import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { APPROVED_PROPOSALS } from "../../../plugins/shopify/templates.ts";
import { ROOT } from "../../../tools/stack/mod.ts";
import { eventually } from "../../_support/channel.ts";
import { shopifyChannel } from "../../_support/shopify.ts";
import { sql } from "../../_support/stack.ts";

/** Debian's `chromium` (`apt-get install -y chromium`; .ci/run installs it). */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** Where the screenshot goes (.dev/ is not committed); the test prints its path. */
const SCREENSHOT = join(ROOT, ".dev", "screenshots", "shopify-merchant-page.png");

/**
 * The merchant page as a staff member uses it in the Shopify admin, in a real browser with every
 * request to anything but the app refused (so Shopify's App Bridge script does not load, and the
 * page must work without it): opened with a session token, a template changed, a test message
 * sent and found in the list, the 30-day chart drawn, and no Content-Security-Policy violation.
 */
Deno.test("the merchant page in Chromium: open it with a session token, change a template, send a test message and see it listed", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    assert.fail(`This test drives ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
  }
  // the account holds the plugin's proposals and another shipping template to pick instead
  const s = await shopifyChannel({
    templates: [...APPROVED_PROPOSALS, {
      name: "shipping_update_v2",
      language: "en_US",
      components: [{ type: "BODY", text: "Hi {{1}}, {{2}} left with {{3}} ({{4}}): {{5}} ok." }],
    }],
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    // a month of activity to draw: one order sent, one without consent
    await s.control("/orders", {
      shop: s.shop,
      phone: "098470 12345",
      country: "IN",
      opt_in: true,
    });
    await s.control("/orders", { shop: s.shop, phone: "098470 99999", country: "IN" });
    await s.settled();

    const context = await browser.newContext({ viewport: { width: 1200, height: 1400 } });
    const origin = new URL(s.ch.appUrl).origin;
    const refused: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      refused.push(url);
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(
      `${s.ch.appUrl}/plugins/shopify/app?shop=${s.shop}&host=YWRtaW4&id_token=${await s.shopify
        .sessionToken(s.shop)}`,
    );
    assert.equal(await page.locator("h1").textContent(), "WhatsApp notifications");
    assert.deepEqual(refused, ["https://cdn.shopify.com/shopifycloud/app-bridge.js"]);
    assert.equal(await page.locator("svg.chart rect.bar").count(), 2, "a sent and a not-sent bar");
    assert.equal(await page.locator('[data-total="suppressed:no_consent"]').textContent(), "1");

    // change a template, through the form
    await page.selectOption('select[name="shipping_update.template"]', "shipping_update_v2|en_US");
    await page.click('#settings button[type="submit"]');
    await page.waitForSelector("p.notice.ok");
    assert.equal(await page.locator("p.notice").textContent(), "Saved.");
    assert.equal(
      await page.inputValue('select[name="shipping_update.template"]'),
      "shipping_update_v2|en_US",
    );
    const [saved] = await sql<{ config: { notifications: Record<string, { template: string }> } }>(
      "select config from plugin_installations where client_id = $1 and plugin_id = 'shopify'",
      [s.ch.clientId],
    );
    assert.equal(saved.config.notifications.shipping_update.template, "shipping_update_v2");

    // send a test message of it
    await page.selectOption('select[name="notification"]', "shipping_update");
    await page.fill('input[name="phone"]', "+91 98470 11111");
    await page.click('#test button[type="submit"]');
    await page.waitForSelector("p.notice.ok");
    assert.equal(
      await page.locator("p.notice").textContent(),
      "Test message queued to +919847011111.",
    );
    const row = page.locator('#recent tr[data-kind="test:shipping_update"]');
    assert.equal(await row.count(), 1, "the test is listed");
    await eventually(async () => {
      await s.ch.idle();
      return s.templatesTo("+919847011111").some((m) =>
        (m.body.template as { name: string }).name === "shipping_update_v2"
      );
    }, "the test message at the Graph emulator");
    // reload (a fresh session token): the test's delivery status shows
    await eventually(async () => {
      await page.goto(
        `${s.ch.appUrl}/plugins/shopify/app?shop=${s.shop}&id_token=${await s.shopify
          .sessionToken(s.shop)}`,
      );
      const status = await page.locator('#recent tr[data-kind="test:shipping_update"] td')
        .last().textContent();
      return status === "Delivered" || status === "Read";
    }, "the test message's delivery status on the page");

    await Deno.mkdir(join(ROOT, ".dev", "screenshots"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`screenshot: ${SCREENSHOT}`);
    assert.deepEqual(violations, [], "no Content-Security-Policy violation");

    // a form posted without the page's token is refused, and changes nothing
    const forged = await fetch(`${s.ch.appUrl}/plugins/shopify/app/settings`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        shop: s.shop,
        page_token: "forged.token",
        "shipping_update.template": "evil",
      }),
    });
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
  } finally {
    await browser.close();
    await s.close();
  }
});
