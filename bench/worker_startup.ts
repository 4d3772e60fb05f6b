import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { freePort } from "../tools/stack/mod.ts";
import { decodeMappings, owner, repoPath, sourceAt } from "./source_map.ts";
import { loadAverage, median, percentile } from "./stats.ts";
import { buildWorkerBundle, startWorkerd, wrangler, writeWorkerdConfig } from "./workerd.ts";

const HELP = `deno task bench:startup [--runs N] [--profiles N]

How long the Worker takes to start in workerd, in the two parts a cold request pays:
  1. module evaluation: compiling the bundle and running its top level (what Cloudflare's start-up
     limit measures), and
  2. first-request boot: the app's lazy composition on the first fetch (parseEnv, key imports,
     createApp), V8 compiling each function on its first call, Hono building its router.

Timed from outside (inside workerd, clocks only advance on I/O, a Spectre mitigation, so a Worker
cannot time its own code). Each run starts a fresh workerd (no wrangler in front) and measures with
performance.now() in this process:
  A  spawn → response to /__probe, which a wrapper module answers without calling the app,
     minus the same for a one-line Worker (workerd's own start-up and first-request cost)
  B  then GET /no-such-route: the first call into the app (404, no database involved)
  C  then the same request 5 times: the steady state; boot = B − median(C)
Then \`wrangler check startup\` (Cloudflare's tool: a CPU profile of the start-up phase in local
workerd) runs --profiles times; its samples are attributed to packages through the source map.

Options:
  --runs N       fresh workerd starts per variant (default 15)
  --profiles N   wrangler check startup runs (default 5; 0 skips)`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "15" },
    profiles: { type: "string", default: "5" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const runs = Number(values.runs);
const profiles = Number(values.profiles);

// Where the app's Supabase API would be. The routes timed here call nothing there but the request
// log, which the app writes after each response (on Workers, one insert per request): this
// answers those inserts as PostgREST does. Unreachable, each write failed and printed
// request_log_failed.
const supabase = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  async (request) => {
    await request.body?.cancel();
    return new Response(null, { status: 201 });
  },
);

// a configuration that parses
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n)).toBase64();
const BINDINGS = {
  ENVIRONMENT: "production",
  LOG_LEVEL: "error",
  SUPABASE_URL: `http://127.0.0.1:${supabase.addr.port}`,
  SUPABASE_ANON_KEY: random(30),
  SUPABASE_SERVICE_ROLE_KEY: random(30),
  SUPABASE_JWT_SECRET: random(40),
  MASTER_KEYS: `v1:${random(32)}`,
  API_KEY_PEPPER: random(40),
  META_APP_SECRET: random(20),
  META_VERIFY_TOKEN: random(12),
};

const PROBE = `import app from "./workers.js";
export default {
  ...app,
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__probe") return new Response("probe");
    return app.fetch(request, env, ctx);
  },
};
`;
const HELLO = `export default { fetch() { return new Response("probe"); } };\n`;

async function timed(url: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return performance.now() - t;
}

async function coldStart(dir: string, modules: string[], withApp: boolean) {
  const port = await freePort();
  const config = await writeWorkerdConfig({ dir, modules, port, bindings: BINDINGS });
  const spawned = performance.now();
  const workerd = await startWorkerd(config, port);
  try {
    const base = `http://127.0.0.1:${port}`;
    await timed(`${base}/__probe`);
    const toProbe = performance.now() - spawned;
    if (!withApp) return { toProbe, first: NaN, steady: NaN };
    const first = await timed(`${base}/no-such-route`);
    const steady: number[] = [];
    for (let i = 0; i < 5; i++) steady.push(await timed(`${base}/no-such-route`));
    return { toProbe, first, steady: median(steady) };
  } finally {
    await workerd.stop();
  }
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** Active start-up CPU per package, averaged over `count` runs of `wrangler check startup`. */
async function startupProfile(dir: string, module: string, count: number) {
  const map = JSON.parse(await Deno.readTextFile(`${module}.map`));
  const segments = decodeMappings(map.mappings);
  const byOwner = new Map<string, number>();
  const add = (key: string, ms: number) => byOwner.set(key, (byOwner.get(key) ?? 0) + ms);
  for (let i = 0; i < count; i++) {
    const file = join(dir, `startup-${i}.cpuprofile`);
    await wrangler(["check", "startup", "--outfile", file]);
    const profile: CpuProfile = JSON.parse(await Deno.readTextFile(file));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    profile.samples.forEach((id, j) => {
      const frame = nodes.get(id)!;
      const ms = profile.timeDeltas[j] / 1000 / count;
      if (frame.functionName === "(idle)") return;
      if (!frame.url.endsWith(basename(module))) {
        return add(frame.functionName.startsWith("(") ? frame.functionName : "(runtime APIs)", ms);
      }
      if (frame.lineNumber < 0) return add("(bundle: compile and top-level code)", ms);
      const source = sourceAt(segments, frame.lineNumber, frame.columnNumber);
      add(
        source < 0
          ? "(bundle: esbuild helpers, e.g. __name)"
          : owner(repoPath(module, map.sources[source])),
        ms,
      );
    });
  }
  return [...byOwner.entries()].sort((a, b) => b[1] - a[1]);
}

const loadBefore = loadAverage();
const dir = await Deno.makeTempDir({ prefix: "glooft-startup-" });
try {
  // the same build wrangler check startup makes, so its profile lines up with this source map
  const { module, output } = await buildWorkerBundle(dir);
  await Deno.writeTextFile(join(dir, "probe.js"), PROBE);
  await Deno.writeTextFile(join(dir, "hello.js"), HELLO);

  const app = [], hello = [];
  // interleaved, so drift on a shared machine hits both variants alike
  for (let i = 0; i < runs; i++) {
    hello.push(await coldStart(dir, [join(dir, "hello.js")], false));
    app.push(await coldStart(dir, [join(dir, "probe.js"), module], true));
  }
  const row = (label: string, xs: number[]) =>
    console.log(`| ${label} | ${median(xs).toFixed(1)} | ${percentile(xs, 90).toFixed(1)} |`);
  const toProbe = app.map((r) => r.toProbe);
  const helloToProbe = hello.map((r) => r.toProbe);
  console.log(
    `Worker bundle: ${/Total Upload: (.*)/.exec(output)?.[1] ?? "?"}; ${runs} fresh workerd ` +
      `starts per variant; ${new Date().toISOString()}; 1-min load average ${loadBefore} before`,
  );
  console.log("\n| measure | median ms | p90 ms |\n|---|---:|---:|");
  row("A: spawn → first response, one-line Worker", helloToProbe);
  row("A: spawn → first response, app bundle (probe route)", toProbe);
  console.log(
    `| **module evaluation** (difference of the medians) | **${
      (median(toProbe) - median(helloToProbe)).toFixed(1)
    }** | |`,
  );
  row("B: first call into the app (404)", app.map((r) => r.first));
  row("C: steady state, same request", app.map((r) => r.steady));
  row("**first-request boot** (B − C)", app.map((r) => r.first - r.steady));

  if (profiles > 0) {
    const ranked = await startupProfile(dir, module, profiles);
    const active = ranked.reduce((sum, [, ms]) => sum + ms, 0);
    console.log(
      `\nwrangler check startup, ${profiles} runs: active CPU ${active.toFixed(1)} ms per start\n`,
    );
    console.log("| where | ms per start | share |\n|---|---:|---:|");
    for (const [name, ms] of ranked.slice(0, 10)) {
      console.log(`| ${name} | ${ms.toFixed(1)} | ${(100 * ms / active).toFixed(0)} % |`);
    }
  }
  console.log(`\n1-min load average after: ${loadAverage()}`);
} finally {
  await supabase.shutdown();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
