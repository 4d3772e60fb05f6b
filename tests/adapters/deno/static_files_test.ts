import assert from "node:assert/strict";
import { join } from "node:path";
import { staticFiles } from "../../../src/adapters/deno/static_files.ts";
import { ROOT } from "../../../tools/stack/mod.ts";

const request = (path: string, method = "GET") =>
  new Request(`http://127.0.0.1:8787${path}`, { method });

Deno.test("staticFiles() serves public/ as Workers does: the Swagger UI files, with their types", async () => {
  const { serve, missing } = await staticFiles(join(ROOT, "public"));
  assert.deepEqual(missing, [], "every link into node_modules resolves");
  const bundle = await serve(request("/docs/assets/swagger-ui-bundle.js"));
  assert.equal(bundle?.status, 200);
  assert.match(bundle!.headers.get("content-type")!, /^text\/javascript/);
  assert.equal(bundle!.headers.get("x-content-type-options"), "nosniff");
  const text = await bundle!.text();
  assert.ok(text.includes("SwaggerUIBundle"));
  assert.equal(
    Number(bundle!.headers.get("content-length")),
    new TextEncoder().encode(text).length,
  );
  const css = await serve(request("/docs/assets/swagger-ui.css", "HEAD"));
  assert.match(css!.headers.get("content-type")!, /^text\/css/);
  assert.equal(await css!.text(), "");
});

Deno.test("staticFiles() leaves to the app every path that is not exactly one of its files", async () => {
  const { serve } = await staticFiles(join(ROOT, "public"));
  const outside = [
    "/docs",
    "/docs/",
    "/docs/assets",
    "/docs/assets/",
    "/_headers",
    "/docs/assets/../../deno.json",
    "/docs/assets/%2e%2e/%2e%2e/deno.json",
    "/docs/assets/..%2f..%2fdeno.json",
    "//docs/assets/docs.js",
    "/docs/assets/docs.js/",
    "/DOCS/assets/docs.js",
    "/docs/assets/docs.js%00",
    "/deno.json",
  ];
  for (const path of outside) assert.equal(await serve(request(path)), null, path);
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    assert.equal(await serve(request("/docs/assets/docs.js", method)), null, method);
  }
});

Deno.test("staticFiles() names the links that lead nowhere and does not serve them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "glooft-static-" });
  try {
    await Deno.writeTextFile(join(dir, "here.txt"), "here");
    await Deno.symlink(join(dir, "nowhere.js"), join(dir, "gone.js"));
    const { serve, missing } = await staticFiles(dir);
    assert.deepEqual(missing, ["/gone.js"]);
    assert.equal(await serve(request("/gone.js")), null);
    assert.equal(await (await serve(request("/here.txt")))!.text(), "here");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
