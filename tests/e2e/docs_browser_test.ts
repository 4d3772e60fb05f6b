import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { PAGE_POLICY } from "../../src/http/middleware/content_security_policy.ts";
import { ERROR_CODES } from "../../src/core/errors.ts";
import { type AppRuntime, startAppProcess } from "../../tools/stack/app_process.ts";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { testStack } from "../_support/stack.ts";

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
/** Where the screenshots go (.dev/ is not committed); the test prints each path. */
const SCREENSHOTS = join(ROOT, ".dev", "screenshots");

/**
 * The API reference as a reader opens it, in a real browser, with every request to anything but
 * the app refused: the page must need nothing from the internet (no CDN), break none of its own
 * Content-Security-Policy, and list every operation of /openapi.json and every error code. Run
 * against the app as each runtime serves it: on Deno the entry serves public/, in workerd
 * `wrangler dev` serves it as static assets.
 */
for (const runtime of ["deno", "workerd"] as AppRuntime[]) {
  Deno.test(`/docs on ${runtime} lists every operation in Chromium with the outside network blocked`, async () => {
    try {
      await Deno.stat(CHROMIUM);
    } catch {
      assert.fail(`This test drives ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
    }
    const dir = await Deno.makeTempDir({ prefix: `glooft-docs-${runtime}-` });
    const app = await startAppProcess({
      runtime,
      env: { ...testStack().appEnv, LOG_LEVEL: "error" },
      port: await freePort(),
      dir,
      readyTimeoutMs: 60_000,
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    try {
      const document = await (await fetch(`${app.url}/openapi.json`)).json();
      const operations = Object.entries(document.paths as Record<string, object>).flatMap((
        [path, item],
      ) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
        // Swagger UI lists the client webhooks (OpenAPI 3.1 `webhooks`) as operations too
        .concat(
          Object.entries(document.webhooks as Record<string, object>).flatMap(([name, item]) =>
            Object.keys(item).map((method) => `${method.toUpperCase()} ${name}`)
          ),
        ).sort();
      assert.ok(operations.length > 10, `the document lists operations: ${operations}`);
      // the static files carry the headers public/_headers (Workers) and the Deno entry give them
      const assets = { "swagger-ui-bundle.js": /javascript/, "swagger-ui.css": /^text\/css/ };
      for (const [file, type] of Object.entries(assets)) {
        const res = await fetch(`${app.url}/docs/assets/${file}`);
        await res.body?.cancel();
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get("content-type") ?? "", type, file);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", file);
      }

      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const origin = new URL(app.url).origin;
      const refused: string[] = [];
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (new URL(url).origin === origin) return route.continue();
        refused.push(url);
        return route.abort("blockedbyclient");
      });
      const page = await context.newPage();
      const problems: string[] = [];
      // a policy violation is logged as an error
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("requestfailed", (r) => {
        if (new URL(r.url()).origin === origin) problems.push(`failed: ${r.url()}`);
      });
      page.on("response", (r) => {
        if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
      });

      const response = await page.goto(`${app.url}/docs`, { waitUntil: "load" });
      assert.equal(response?.status(), 200);
      assert.equal(response?.headers()["content-security-policy"], PAGE_POLICY);
      await page.waitForFunction(
        (n) => document.querySelectorAll(".opblock").length >= n,
        operations.length,
        { timeout: 30_000 },
      ).catch((error) => {
        throw new Error(
          `The operations never appeared (${error.message})\nrefused: ${refused.join(", ")}\n` +
            problems.join("\n"),
        );
      });
      const listed = (await page.$$eval(".opblock", (blocks) =>
        blocks.map((b) =>
          `${b.querySelector(".opblock-summary-method")?.textContent?.trim()} ${
            b.querySelector(".opblock-summary-path")?.getAttribute("data-path")
          }`
        ))).sort();
      assert.deepEqual(listed, operations);
      const info = await page.locator(".information-container").innerText();
      for (const code of Object.keys(ERROR_CODES)) {
        assert.ok(info.includes(code), `the reference shows the error code ${code}`);
      }

      await Deno.mkdir(SCREENSHOTS, { recursive: true });
      const screenshot = join(SCREENSHOTS, `docs-${runtime}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);

      assert.deepEqual(refused, [], "the page asked for nothing outside this deployment");
      assert.deepEqual(problems, [], "no errors, failed loads or policy violations");
    } finally {
      await browser.close();
      await app.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}
