import assert from "node:assert/strict";
import { join } from "node:path";
import * as z from "zod";
import * as registered from "../../plugins/mod.ts";
import { type Plugin, pluginProblems, registryProblems } from "../../src/plugin_api/mod.ts";
import { ROOT } from "../../tools/stack/mod.ts";
import { importGraph, importsOf } from "../architecture/imports.ts";
import { example } from "./example/mod.ts";

/**
 * The rules every plugin follows, run on every plugin plugins/mod.ts registers (and on the
 * example, which is written as a new one would be).
 */

const PLUGINS: Array<{ plugin: Plugin; folder: string }> = [
  ...Object.values(registered).map((plugin) => ({
    plugin,
    folder: `plugins/${plugin.id.replaceAll("-", "_")}`,
  })),
  { plugin: example, folder: "tests/plugins/example" },
];

Deno.test("every registered plugin passes the manifest rules and the registry as a whole does", () => {
  assert.ok(Object.values(registered).length > 0, "the registry lists plugins");
  for (const { plugin } of PLUGINS) assert.deepEqual(pluginProblems(plugin), [], plugin.id);
  assert.deepEqual(registryProblems(Object.values(registered)), []);
});

Deno.test("every registered plugin lives in a folder named after its id, with a README", async () => {
  for (const { plugin, folder } of PLUGINS) {
    const readme = await Deno.readTextFile(join(ROOT, folder, "README.md"));
    assert.ok(readme.includes(`\`${plugin.id}\``), `${folder}/README.md names ${plugin.id}`);
    await Deno.stat(join(ROOT, folder, "mod.ts"));
  }
});

Deno.test("every registered plugin's config publishes as JSON Schema, its secrets stay out of it, and a plugin on by default runs on {}", () => {
  for (const { plugin } of PLUGINS) {
    const schema = z.toJSONSchema(plugin.config, { io: "input" }) as {
      type: string;
      properties?: Record<string, unknown>;
    };
    assert.equal(schema.type, "object", plugin.id);
    for (const secret of plugin.secrets ?? []) {
      assert.ok(!(secret in (schema.properties ?? {})), `${plugin.id}: ${secret} is a secret`);
    }
    if (plugin.enabledByDefault) assert.ok(plugin.config.safeParse({}).success, plugin.id);
  }
});

Deno.test("plugins/mod.ts is one re-export line per plugin folder", async () => {
  const text = await Deno.readTextFile(join(ROOT, "plugins", "mod.ts"));
  const code = text.split("\n").filter((l) => l.trim() && !/^\s*(\/\/|\/\*|\*)/.test(l));
  for (const line of code) {
    assert.match(line, /^export \{ \w+ \} from "\.\/[a-z0-9_]+\/mod\.ts";$/, line);
  }
});

/** A project file a file under plugins/ may import: the plugin API, or its own folder. */
export function pluginImportProblems(
  file: string,
  imports: Array<{ specifier: string; target: string | null }>,
): string[] {
  const folder = file.split("/").slice(0, 2).join("/");
  const isRegistry = file === "plugins/mod.ts";
  const problems: string[] = [];
  for (const { specifier, target } of imports) {
    if (target === null) {
      // npm packages are fine; the runtime's own modules (node:, jsr:) and URLs are not a
      // plugin's to reach for: both Workers and Deno run it
      if (/^(node:|jsr:|https?:|file:)/.test(specifier)) {
        problems.push(`${file} imports ${specifier}`);
      }
      continue;
    }
    const allowed = target.startsWith("src/plugin_api/") ||
      (isRegistry
        ? /^plugins\/[a-z0-9_]+\/mod\.ts$/.test(target)
        : target.startsWith(`${folder}/`));
    if (!allowed) problems.push(`${file} imports ${target}`);
  }
  return problems;
}

Deno.test("a file under plugins/ imports no project code but src/plugin_api/ (its own folder and npm packages are fine)", async () => {
  const problems: string[] = [];
  for (const [file, imports] of await importGraph(["plugins"])) {
    problems.push(...pluginImportProblems(file, imports));
  }
  assert.deepEqual(problems, []);
});

// (made-up files are written `${PLUGINS_DIR}/…`, so that no reader takes them for files here)
const PLUGINS_DIR = "plugins";

Deno.test("the plugin import rule names a plugin that imports the core, another plugin or node:", () => {
  const file = `${PLUGINS_DIR}/shop/mod.ts`;
  const found = pluginImportProblems(
    file,
    importsOf(
      file,
      [
        'import { definePlugin } from "../../src/plugin_api/mod.ts";',
        'import { helper } from "./helper.ts";',
        'import * as z from "zod";',
        'import type { ServiceDeps } from "../../src/services/deps.ts";',
        'import { optOut } from "../opt_out/mod.ts";',
        'import { readFile } from "node:fs";',
      ].join("\n"),
    ),
  );
  assert.deepEqual(found, [
    `${file} imports src/services/deps.ts`,
    `${file} imports plugins/opt_out/mod.ts`,
    `${file} imports node:fs`,
  ]);
});

Deno.test("the example plugin follows the same import rule", async () => {
  const file = "tests/plugins/example/mod.ts";
  const text = await Deno.readTextFile(join(ROOT, file));
  const imports = importsOf(file, text).map((i) => ({
    ...i,
    // as if it lived under plugins/, where a new plugin would
    target: i.target?.startsWith("tests/plugins/example/")
      ? i.target.replace("tests/plugins/example/", `${PLUGINS_DIR}/example/`)
      : i.target,
  }));
  assert.deepEqual(pluginImportProblems(`${PLUGINS_DIR}/example/mod.ts`, imports), []);
});

Deno.test("src/plugin_api/ imports nothing of the project but itself and src/core/", async () => {
  const problems: string[] = [];
  for (const [file, imports] of await importGraph(["src/plugin_api"])) {
    for (const { target } of imports) {
      if (target && !/^src\/(plugin_api|core)\//.test(target)) problems.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});
