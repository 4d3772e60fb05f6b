import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { decodeMappings, owner, repoPath, type SourceMap } from "./source_map.ts";
import { buildWorkerBundle } from "./workerd.ts";

const HELP = `deno task bench:bundle [--top N] [--outdir DIR]

Builds the Worker as \`wrangler deploy --dry-run\` does (minified, per wrangler.toml), prints its
size and gzip size (the figure Cloudflare's size limits use) and the biggest contributors by
package: minified bytes from esbuild's metafile; "gzip alone" is that package's code (found through
the source map) gzipped on its own, an indication only since gzip shares context across the file;
"gzip saved" is how much smaller the whole gzipped code gets with that package's code cut out.

Options:
  --top N        contributors to list (default 12)
  --outdir DIR   keep the bundle, source map and metafile there (default: a temporary directory)`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    top: { type: "string", default: "12" },
    outdir: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const gzip = (text: string) => gzipSync(new TextEncoder().encode(text)).byteLength;

/** The generated code cut into stretches, each with the repository path of its source. */
function stretches(bundle: string, code: string, map: SourceMap) {
  const lines = code.split("\n");
  const out: Array<{ source: string; text: string }> = [];
  decodeMappings(map.mappings).forEach((segments, lineNo) => {
    const line = lines[lineNo] ?? "";
    segments.forEach(([column, source], i) => {
      const end = segments[i + 1]?.[0] ?? line.length;
      const path = source < 0 ? "(generated)" : repoPath(bundle, map.sources[source]);
      out.push({ source: path, text: line.slice(column, end) });
    });
  });
  return out;
}

const outdir = values.outdir ?? await Deno.makeTempDir({ prefix: "glooft-bundle-" });
try {
  const { module, metafile, output } = await buildWorkerBundle(outdir);
  const code = await Deno.readTextFile(module);
  const bytes = new TextEncoder().encode(code).byteLength;
  const meta: Metafile = JSON.parse(await Deno.readTextFile(metafile));
  const [, out] = Object.entries(meta.outputs).find(([name]) => name.endsWith("workers.js"))!;
  const parts = stretches(module, code, JSON.parse(await Deno.readTextFile(`${module}.map`)));
  const joined = (keep: (source: string) => boolean) =>
    parts.filter((p) => keep(p.source)).map((p) => p.text).join("");
  const whole = gzip(joined(() => true));

  const byOwner = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    byOwner.set(owner(input), (byOwner.get(owner(input)) ?? 0) + bytesInOutput);
  }

  console.log(`wrangler: ${/Total Upload: (.*)/.exec(output)?.[1] ?? "?"}`);
  console.log(`bundle ${kib(bytes)}, gzip ${kib(gzipSync(code).byteLength)} (node:zlib)\n`);
  console.log("| package | minified | share | gzip alone | gzip saved without it |");
  console.log("|---|---:|---:|---:|---:|");
  const ranked = [...byOwner.entries()].sort((a, b) => b[1] - a[1]);
  for (const [name, size] of ranked.slice(0, Number(values.top))) {
    const alone = gzip(joined((s) => owner(s) === name));
    const saved = whole - gzip(joined((s) => owner(s) !== name));
    console.log(
      `| ${name} | ${kib(size)} | ${(100 * size / bytes).toFixed(1)} % | ${kib(alone)} | ${
        kib(saved)
      } |`,
    );
  }
  const isLocale = (s: string) => s.includes("node_modules/zod/v4/locales/");
  const locales = new Set(parts.filter((p) => isLocale(p.source)).map((p) => p.source));
  if (locales.size) {
    console.log(
      `\nof which zod's locales (${locales.size} files; tools/workers/zod.js leaves out all but ` +
        `English, which zod builds in): ` +
        `${kib(joined(isLocale).length)} minified, gzip saved without them ${
          kib(whole - gzip(joined((s) => !isLocale(s))))
        }`,
    );
  }
  if (values.outdir) console.log(`\nbundle, source map and metafile kept in ${values.outdir}`);
} finally {
  if (!values.outdir) await Deno.remove(outdir, { recursive: true }).catch(() => {});
}
