import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { PAGE_POLICY } from "../../src/http/middleware/content_security_policy.ts";
import { ROOT } from "../../tools/stack/mod.ts";
import {
  asPrivacyStaff,
  newSubject,
  privacyWorld,
  requestIdByPrefix,
} from "../_support/privacy.ts";

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
const SCREENSHOTS = join(ROOT, ".dev", "screenshots");

/**
 * The public privacy page as a person uses it, in Chromium with JavaScript turned off and every
 * request outside the app refused: they file an access request, read the code WhatsApp brought
 * them (the Graph API emulator), enter it, and once privacy staff have run the request they
 * download their data. Fields are found by their labels and messages by their roles, so an
 * unlabelled field or an unannounced error fails the test; the page breaks none of its own
 * Content-Security-Policy.
 */
Deno.test("/privacy in Chromium without JavaScript: file, verify and download, with labelled fields and announced errors", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    assert.fail(`This test drives ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
  }
  const world = await privacyWorld({ businesses: 1 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const subject = newSubject();
    await world.writeIn(subject, world.businesses[0], subject.texts[0]);
    const origin = new URL(world.ch.appUrl).origin;
    const context = await browser.newContext({
      javaScriptEnabled: false,
      acceptDownloads: true,
      locale: "en-GB",
      viewport: { width: 900, height: 1000 },
    });
    const refused: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      refused.push(url);
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    const problems: string[] = [];
    let refusedForms = 0;
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      // the three forms sent wrong below are answered 400, as they should be
      if (/status of 400/.test(m.text())) refusedForms++;
      else problems.push(`console: ${m.text()}`);
    });
    page.on("requestfailed", (r) => {
      // a download ends its navigation as "aborted": that one is not a failure
      if (!r.url().includes("/privacy/exports/")) problems.push(`failed: ${r.url()}`);
    });

    const first = await page.goto(`${world.ch.appUrl}/privacy`);
    assert.equal(first?.status(), 200);
    assert.equal(first?.headers()["content-security-policy"], PAGE_POLICY);
    assert.equal(await page.getAttribute("html", "lang"), "en");
    assert.equal(await page.locator("script").count(), 0, "no script at all");
    assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "Your privacy rights");
    const css = await page.request.get(`${world.ch.appUrl}/privacy/privacy.css`);
    assert.match(css.headers()["content-type"], /^text\/css/, "the page's one stylesheet");

    // nothing chosen: the error summary is announced and links to each field
    await page.getByRole("button", { name: "Send me a code" }).click();
    const alert = page.getByRole("alert");
    assert.match(await alert.innerText(), /There is a problem/);
    assert.match(await alert.innerText(), /Choose what you would like us to do/);

    await page.getByLabel("Send me a copy of my data").check();
    await page.getByLabel("Your WhatsApp number").fill("not a number");
    await page.getByRole("button", { name: "Send me a code" }).click();
    assert.match(await page.getByRole("alert").innerText(), /international format/);
    assert.equal(
      await page.getByLabel("Your WhatsApp number").getAttribute("aria-invalid"),
      "true",
    );

    await page.getByLabel("Your WhatsApp number").fill(`+${subject.waId}`);
    await page.getByRole("button", { name: "Send me a code" }).click();
    assert.match(page.url(), /\/privacy\/requests\/[0-9A-Z-]+/);
    assert.match(await page.getByRole("status").innerText(), /we have sent a code/);
    const code = decodeURIComponent(/\/privacy\/requests\/([^?]+)/.exec(page.url())![1]);

    await page.getByLabel("Code from WhatsApp").fill("12345");
    await page.getByRole("button", { name: "Confirm" }).click();
    assert.match(await page.getByRole("alert").innerText(), /six-digit code/);

    await page.getByLabel("Code from WhatsApp").fill(await world.codeSentTo(subject.waId));
    await page.getByRole("button", { name: "Confirm" }).click();
    assert.match(await page.getByRole("status").innerText(), /your request is verified/);

    const id = await requestIdByPrefix(code);
    await asPrivacyStaff([
      ["select privacy.approve_request($1)", [id]],
      ["select privacy.run_fulfilment($1)", [id]],
    ]);
    await world.sweep();
    await page.reload();
    assert.match(await page.locator("dl").innerText(), /Done/);
    // one export per business holding data (the sender of codes holds the code it sent)
    const links = page.getByRole("link", { name: /Download the data of business \d/ });
    assert.equal(await links.count(), 2);
    const downloaded: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [download] = await Promise.all([page.waitForEvent("download"), links.nth(i).click()]);
      downloaded.push(await Deno.readTextFile((await download.path())!));
    }
    assert.ok(downloaded.some((d) => d.includes(subject.texts[0])), "a download holds the data");
    await page.reload();
    assert.equal(await links.count(), 0, "each link worked once");
    assert.match(await page.locator("main").innerText(), /Downloaded on/);

    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    const screenshot = join(SCREENSHOTS, "privacy-status.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot: ${screenshot}`);

    assert.deepEqual(refused, [], "the page asked for nothing outside this deployment");
    assert.equal(refusedForms, 3);
    assert.deepEqual(problems, [], "no errors, failed loads or policy violations");
  } finally {
    await browser.close();
    await world.close();
  }
});
