import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../tools/stack/mod.ts";
import { type Scope, SCOPES } from "../../src/core/auth/api_keys.ts";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { readmeSection } from "../_support/readme.ts";

/**
 * README.md's route table against the app: every operation of /openapi.json is in the table, every
 * route of the table is served, and the scope the table gives is the one the route demands.
 */

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/** a path with its parameters unnamed: `/v1/contacts/{id or number}` ≡ `/v1/contacts/{contact}` */
const shape = (path: string) => path.replace(/\{[^}]*\}/g, "{}");

interface Row {
  route: string;
  method: string;
  path: string;
  scope: string;
}

function readmeRoutes(readme: string): Row[] {
  const rows: Row[] = [];
  for (const line of readmeSection(readme, "API").split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || !line.startsWith("|")) continue;
    const scope = cells[2].replaceAll("`", "");
    for (const [, method, path] of cells[1].matchAll(/`([A-Z]+) (\/[^`]*)`/g)) {
      if (METHODS.includes(method)) rows.push({ route: `${method} ${path}`, method, path, scope });
    }
  }
  return rows;
}

const concrete = (path: string) =>
  path.replace(/\{[^}]*\}/g, (p) => p.includes("number") ? "447700900999" : crypto.randomUUID());

Deno.test("README's route table lists every operation of /openapi.json, each route it lists is served, and the scope it gives is the one the route demands", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const rows = readmeRoutes(readme);
  assert.ok(rows.length > 10, `the table was read: ${rows.map((r) => r.route).join(", ")}`);
  const { call } = await appUnderTest();
  const doc = (await call("/openapi.json")).body;
  const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${shape(path)}`));
  const listed = new Set(rows.map((r) => `${r.method} ${shape(r.path)}`));
  assert.deepEqual(
    operations.filter((o) => !listed.has(o)),
    [],
    "operations of /openapi.json missing from README.md's route table",
  );

  const keys = new Map<string, string>();
  const keyFor = async (scopes: Scope[]) => {
    const id = scopes.join(",");
    if (!keys.has(id)) keys.set(id, (await clientWithKey({ scopes })).key);
    return keys.get(id)!;
  };
  const request = async (row: Row, key: string | null) =>
    await call(concrete(row.path), {
      method: row.method,
      headers: { ...(key ? bearer(key) : {}), "content-type": "application/json" },
      body: ["GET", "DELETE"].includes(row.method) ? undefined : "{}",
    });
  const problems: string[] = [];
  for (const row of rows) {
    if (!operations.includes(`${row.method} ${shape(row.path)}`)) {
      // outside the client API (Meta's webhook): served, not answered as an unknown route
      const res = await request(row, null);
      if (res.status === 404 && /^No route for/.test(res.body?.error?.message)) {
        problems.push(`${row.route}: not served`);
      }
      continue;
    }
    if (row.scope === "none") {
      const res = await request(row, null);
      if (res.status === 401) problems.push(`${row.route}: the table says none, it asks for a key`);
      continue;
    }
    if (row.scope === "any") {
      const res = await request(row, await keyFor(["messages:read"]));
      if (res.status === 403) problems.push(`${row.route}: the table says any, it answers 403`);
      continue;
    }
    if (!(SCOPES as readonly string[]).includes(row.scope)) {
      problems.push(`${row.route}: "${row.scope}" is no scope`);
      continue;
    }
    const without = await request(row, await keyFor(SCOPES.filter((s) => s !== row.scope)));
    if (without.status !== 403 || !without.body.error.message.includes(row.scope)) {
      problems.push(
        `${row.route}: without ${row.scope}: ${without.status} ${JSON.stringify(without.body)}`,
      );
    }
    const only = await request(row, await keyFor([row.scope as Scope]));
    if (only.status === 403) {
      problems.push(`${row.route}: with only ${row.scope}: 403 ${JSON.stringify(only.body)}`);
    }
  }
  assert.deepEqual(problems, []);
});
