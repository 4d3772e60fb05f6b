import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROOT } from "../tools/stack/mod.ts";

/** Top-level folders whose paths a comment or document may cite. */
const FOLDERS = ["src", "tools", "tests", "bench", "docs", "supabase", "plugins", "public"];
/** Where citations are looked for: code, docs, configuration. */
const SCANNED = ["src", "tools", "tests", "bench", "plugins", "docs", "supabase", "public", ".ci"];
const TEXT = /\.(ts|tsx|js|sql|md|toml|lua|json)$|^run$/;
/** Cited files that a command writes, so a checkout need not hold them. */
const WRITTEN_BY_A_COMMAND = new Set([
  "docs/reliability.md", // by the reliability suite (tests/_support/reliability.ts)
]);

// a path ends where no path character follows; a glob (`*`, `{`) or placeholder (`<`) is no file
const PATH = new RegExp(
  `(?<![\\w@./:-])(?:${FOLDERS.join("|")})/[\\w./-]*\\w(?![\\w*{<-])`,
  "g",
);
const ROOT_DOC = /(?<![\w./-])[A-Z][A-Z_]+\.md\b/g;

async function* files(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* files(path);
    // links are the Swagger UI files of node_modules: not ours to read
    else if (entry.isFile && TEXT.test(entry.name)) yield path;
  }
}

/** A reader who follows a cited path must find the file. */
Deno.test("every file a comment or document of this repository cites exists", async () => {
  const missing: string[] = [];
  const sources = [join(ROOT, "README.md"), join(ROOT, "wrangler.toml"), join(ROOT, "deno.json")];
  for (const folder of SCANNED) {
    for await (const path of files(join(ROOT, folder))) sources.push(path);
  }
  for (const source of sources) {
    const text = await Deno.readTextFile(source);
    const cited = [...text.matchAll(PATH), ...text.matchAll(ROOT_DOC)].map((m) => m[0]);
    for (const path of new Set(cited)) {
      if (WRITTEN_BY_A_COMMAND.has(path)) continue;
      try {
        await Deno.stat(join(ROOT, path));
      } catch {
        missing.push(`${relative(ROOT, source)} cites ${path}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
