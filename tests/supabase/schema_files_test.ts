import assert from "node:assert/strict";
import { join } from "node:path";
import { applyMigrations, withAdmin } from "../../tools/stack/database.ts";
import { ROOT } from "../../tools/stack/mod.ts";
import { dumpSchemas, SCHEMA_DIR } from "../../tools/schema/dump.ts";
import { compareSchemaFiles } from "../../tools/schema/files.ts";
import { sql, testStack } from "../_support/stack.ts";

/**
 * The generated schema files are what a reader trusts for "what is this function now", so they must
 * match the migrations exactly. They are compared against a database of its own, freshly migrated
 * in the test cluster, so rows or objects other tests leave behind cannot hide a difference.
 */
Deno.test("supabase/schema/ matches what the migrations build (else: deno task schema)", async () => {
  const name = `schema_check_${Deno.pid}_${Date.now()}`;
  await sql(`create database ${name}`);
  try {
    const url = new URL(testStack().adminDbUrl);
    url.pathname = `/${name}`;
    await applyMigrations(url.href, join(ROOT, "supabase", "migrations"), () => {});
    const files = await withAdmin(url.href, dumpSchemas);
    const problems = await compareSchemaFiles(join(ROOT, SCHEMA_DIR), files);
    if (problems.length) assert.fail(problems.join("\n\n"));
  } finally {
    await sql(`drop database if exists ${name} with (force)`);
  }
});
