import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../tools/stack/mod.ts";
import { cycles, importGraph, importsOf, sourceFiles } from "./imports.ts";

/**
 * The layers of src/ (README: How it fits together) hold because these tests read every import:
 * dependencies point one way, only adapters talk to the database, and nothing imports in a circle.
 */

const VENDOR_DATABASE = /^(npm:)?@supabase\/(supabase-js|postgrest-js)(\/|$)/;
/** a supabase-js query: `.from("table")`, `.rpc("function")`, `.schema("name")` */
const QUERY = /\.(from|rpc|schema)\(\s*["'`]/;

const isAdapter = (file: string) => file.startsWith("src/adapters/");

Deno.test("no file in src/ outside src/adapters/ imports supabase-js, not even a type", async () => {
  const offenders: string[] = [];
  for (const [file, imports] of await importGraph(["src"])) {
    if (isAdapter(file)) continue;
    for (const i of imports) {
      if (VENDOR_DATABASE.test(i.specifier)) offenders.push(`${file} imports ${i.specifier}`);
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("no file in src/ outside src/adapters/ queries a database client (.from, .rpc)", async () => {
  const offenders: string[] = [];
  for (const file of await sourceFiles("src")) {
    if (isAdapter(file)) continue;
    const lines = (await Deno.readTextFile(join(ROOT, file))).split("\n");
    lines.forEach((line, n) => {
      if (QUERY.test(line) && !/^\s*(\*|\/\/)/.test(line)) offenders.push(`${file}:${n + 1}`);
    });
  }
  assert.deepEqual(offenders, []);
});

/**
 * What each part of src/ may import from the project (npm packages are free). The composition
 * roots (src/compose.ts, src/entry/) wire adapters in, so they may import anything.
 */
const MAY_IMPORT: Array<[part: RegExp, allowed: RegExp]> = [
  [/^src\/core\//, /^src\/core\//],
  [/^src\/ports\//, /^src\/(ports|core)\//],
  [/^src\/plugin_api\//, /^src\/(plugin_api|core)\//],
  [/^src\/config\//, /^src\/(config|core)\//],
  [/^src\/services\//, /^src\/(services|ports|core|plugin_api|config)\//],
  [/^src\/http\//, /^src\/(http|services|ports|core|plugin_api|config)\//],
  [/^src\/app\.ts$/, /^src\/(http|services|ports|core|plugin_api|config)\/|^plugins\/mod\.ts$/],
  [/^src\/adapters\//, /^src\/(adapters|ports|core)\//],
];

/** Layer violations among `graph`'s files: `file imports target`. */
export function layerViolations(
  graph: Map<string, Array<{ target: string | null }>>,
): string[] {
  const found: string[] = [];
  for (const [file, imports] of graph) {
    const rule = MAY_IMPORT.find(([part]) => part.test(file));
    if (!rule) continue;
    for (const { target } of imports) {
      if (target !== null && !rule[1].test(target)) found.push(`${file} imports ${target}`);
    }
  }
  return found;
}

Deno.test("dependencies point one way: core ← ports ← services ← http; adapters implement ports; only the composition roots wire adapters in", async () => {
  assert.deepEqual(layerViolations(await importGraph(["src", "plugins"])), []);
});

// (made-up files are written `${SRC}/…`, so that no reader takes them for files of this repository)
const SRC = "src";

Deno.test("the layer check names a service that imports an adapter", () => {
  const service = `${SRC}/services/example.ts`;
  const graph = new Map([[
    service,
    importsOf(service, 'import type { X } from "../adapters/supabase/database.ts";'),
  ]]);
  assert.deepEqual(layerViolations(graph), [
    `${service} imports ${SRC}/adapters/supabase/database.ts`,
  ]);
});

Deno.test("nothing in src/ or plugins/ imports in a circle", async () => {
  assert.deepEqual(cycles(await importGraph(["src", "plugins"])), []);
});

Deno.test("the cycle check finds a circle of two files", () => {
  const file = (name: string, imports: string) => [name, importsOf(name, imports)] as const;
  const [a, b] = [`${SRC}/a.ts`, `${SRC}/b.ts`];
  const graph = new Map([
    file(a, 'import { b } from "./b.ts";'),
    file(b, 'export { a } from "./a.ts";'),
  ]);
  assert.deepEqual(cycles(graph), [[a, b, a]]);
});

Deno.test("the import reader sees type imports, re-exports, side-effect and dynamic imports", () => {
  const found = importsOf(
    `${SRC}/x/y.ts`,
    [
      'import type { SupabaseClient } from "@supabase/supabase-js";',
      "import {\n  a,\n  b,\n} from '../a.ts';",
      'export * from "./b.ts";',
      'import "./c.ts";',
      'const d = await import("../../d.ts");',
    ].join("\n"),
  );
  assert.deepEqual(found.map((i) => [i.specifier, i.target, i.typeOnly]), [
    ["@supabase/supabase-js", null, true],
    ["../a.ts", `${SRC}/a.ts`, false],
    ["./b.ts", `${SRC}/x/b.ts`, false],
    ["./c.ts", `${SRC}/x/c.ts`, false],
    ["../../d.ts", "d.ts", false],
  ]);
});
