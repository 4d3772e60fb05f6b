import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Plugin } from "../../src/plugin_api/mod.ts";
import { ROOT } from "../../tools/stack/mod.ts";

/**
 * plugins/mod.ts with `line` added, as someone adding a plugin would write it: written beside a
 * temporary copy (its relative imports made absolute) and imported. Answers the registry it
 * makes, in order.
 */
export async function registryWithLine(line: string): Promise<Plugin[]> {
  const source = await Deno.readTextFile(join(ROOT, "plugins", "mod.ts"));
  const plugins = pathToFileURL(join(ROOT, "plugins")).href;
  const text = source.replaceAll(/from "\.\/([^"]+)"/g, `from "${plugins}/$1"`) + `${line}\n`;
  const dir = await Deno.makeTempDir({ prefix: "registry-" });
  try {
    const file = join(dir, "mod.ts");
    await Deno.writeTextFile(file, text);
    return Object.values(await import(pathToFileURL(file).href)) as Plugin[];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The line that registers the example plugin of tests/plugins/example/. */
export const EXAMPLE_LINE = `export { example } from "${
  pathToFileURL(join(ROOT, "tests", "plugins", "example", "mod.ts")).href
}";`;

export const EXAMPLE_ENV = { EXAMPLE_WEBHOOK_SECRET: "example-webhook-secret-0123456789" };
