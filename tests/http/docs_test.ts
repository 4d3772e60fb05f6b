import assert from "node:assert/strict";
import { join } from "node:path";
import { ERROR_CODES, type ErrorCode } from "../../src/core/errors.ts";
import { DEFAULT_POLICY, PAGE_POLICY } from "../../src/http/middleware/content_security_policy.ts";
import { ROOT } from "../../tools/stack/mod.ts";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";

Deno.test("/docs loads Swagger UI only from this deployment's public/ files, with no inline script", async () => {
  const { call } = await appUnderTest();
  const page = await call("/docs");
  assert.equal(page.status, 200);
  const html = String(page.body);
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.ok(scripts.length >= 2, "the page loads Swagger UI and its start script");
  const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  for (const [, attributes, body] of scripts) {
    assert.match(attributes, /\bsrc="/, "every script is a file");
    assert.equal(body.trim(), "", "no script has inline content");
  }
  for (const url of urls) {
    assert.match(url, /^\/docs\/assets\/[a-z0-9._-]+$/i, `${url} is served by this deployment`);
    // the file is there (a link into node_modules that resolves), as Workers and Deno serve it
    const file = await Deno.readFile(join(ROOT, "public", url));
    assert.ok(file.length > 0, `${url} has content`);
  }
  const start = await Deno.readTextFile(join(ROOT, "public/docs/assets/docs.js"));
  assert.match(start, /url: "\/openapi\.json"/);
});

Deno.test("every HTML page gets the strict page policy and every other answer a policy that allows nothing", async () => {
  const { app, call } = await appUnderTest();
  const { key } = await clientWithKey();
  // every GET route without path parameters, found from the app itself, so a new page is covered
  const paths = [
    ...new Set(
      app.routes.filter((r) => r.method === "GET" && !/[:*]/.test(r.path)).map((r) => r.path),
    ),
  ];
  assert.ok(paths.includes("/docs") && paths.includes("/openapi.json"), paths.join(", "));
  let pages = 0;
  for (const path of paths.filter((p) => !p.startsWith("/webhooks/"))) {
    const res = await call(path, { headers: bearer(key) });
    const html = (res.headers.get("content-type") ?? "").startsWith("text/html");
    if (html) pages++;
    assert.equal(
      res.headers.get("content-security-policy"),
      html ? PAGE_POLICY : DEFAULT_POLICY,
      `${path} (${res.status}, ${res.headers.get("content-type")})`,
    );
  }
  assert.ok(pages >= 1, "at least /docs is an HTML page");
  for (const path of ["/no-such-page", "/v1/me"]) {
    const refused = await call(path);
    assert.ok(refused.status >= 400);
    assert.equal(refused.headers.get("content-security-policy"), DEFAULT_POLICY, path);
  }
  assert.equal(PAGE_POLICY.includes("unsafe"), false, "no unsafe-inline or unsafe-eval");
});

Deno.test("the OpenAPI document lists every error code, and each error response names codes of its own status", async () => {
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  assert.deepEqual(doc.components.schemas.ErrorCode.enum, codes);
  for (const code of codes) {
    assert.ok(doc.info.description.includes(`| \`${code}\` |`), `${code} is in the errors table`);
  }
  const errorResponses: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
    for (const [method, operation] of Object.entries(item)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400 || path === "/healthz") continue;
        const where = `${method.toUpperCase()} ${path} ${status}`;
        errorResponses.push(where);
        const named = [...(response as { description: string }).description.matchAll(
          /(?:^|; )`([a-z_]+)`: /g,
        )].map((m) => m[1]);
        assert.ok(named.length > 0, `${where} names the codes it can carry`);
        for (const code of named) {
          assert.equal(
            ERROR_CODES[code as ErrorCode]?.status,
            Number(status),
            `${where} names ${code}`,
          );
        }
      }
    }
  }
  assert.ok(errorResponses.length > 50, `${errorResponses.length} error responses checked`);
});
