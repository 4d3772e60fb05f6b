import assert from "node:assert/strict";
import { generatedClientFiles, staleClientFiles } from "../../../tools/openapi.ts";
import { appUnderTest } from "../../_support/app.ts";

Deno.test("the client's generated files are what the document the app serves generates (run `deno task openapi generate` when this fails)", async () => {
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  assert.deepEqual(await staleClientFiles(doc), []);
});

Deno.test("a change to the document makes the generated files stale", async () => {
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  doc.paths["/v1/me"].get.summary = "Who is calling";
  assert.deepEqual(await staleClientFiles(doc), ["clients/typescript/src/generated/schema.ts"]);
  delete doc.paths["/v1/me"];
  assert.deepEqual(await staleClientFiles(doc), [
    "clients/typescript/src/generated/schema.ts",
    "clients/typescript/src/generated/operations.ts",
  ]);
  assert.ok(
    !(await generatedClientFiles(doc))["clients/typescript/src/generated/operations.ts"].includes(
      "getMe:",
    ),
  );
});
