import { parseArgs } from "node:util";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import { createApiKey } from "../src/adapters/supabase/api_keys_store.ts";
import { importPepper } from "../src/core/auth/api_keys.ts";
import { withAdmin } from "../tools/stack/database.ts";
import { startAppProcess } from "../tools/stack/app_process.ts";
import type { ChildHandle } from "../tools/stack/postgrest.ts";
import { freePort, freePorts, ROOT, startStack } from "../tools/stack/mod.ts";
import { type LoadResult, runLoad } from "./load.ts";
import { loadAverage } from "./stats.ts";
import { buildWorkerBundle, startWorkerd, writeWorkerdConfig } from "./workerd.ts";

const RUNTIMES = ["deno", "workerd", "wrangler"] as const;
type Runtime = (typeof RUNTIMES)[number];

const HELP = `deno task bench:http [options]

Requests/s and p50/p99 latency of GET /healthz, an authenticated GET /v1/me and the Meta webhook
verify handshake (no database query: the runtime and framework alone), with the app on each runtime against a throwaway local stack (embedded PostgreSQL, PostgREST, the Supabase-style
gateway) on free ports. Prints a markdown table. Traffic goes to 127.0.0.1 only.

Runtimes:
  deno      src/entry/deno.ts (deno run -A)
  workerd   the deploy bundle (wrangler deploy --dry-run) in workerd itself, no wrangler in front
  wrangler  wrangler dev: workerd behind wrangler's local proxy, as in \`deno task dev:workers\`

Options:
  --runtimes LIST     comma-separated (default deno,workerd,wrangler)
  --duration S        seconds of measured load per endpoint (default 10, at most 60)
  --warmup S          seconds of unmeasured load first (default 3)
  --connections N     concurrent connections (default 16)
  --tool wrk|deno     wrk (default when on PATH; apt-get install wrk) or bench/load.ts
  -h, --help          show this help`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runtimes: { type: "string", default: RUNTIMES.join(",") },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "16" },
    tool: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const runtimes = values.runtimes.split(",") as Runtime[];
for (const r of runtimes) {
  if (!RUNTIMES.includes(r)) throw new Error(`Unknown runtime ${r}: use ${RUNTIMES.join(", ")}`);
}
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
if (!(duration > 0 && duration <= 60) || !(warmup >= 0 && warmup <= 30)) {
  throw new Error("--duration must be 1..60 and --warmup 0..30 seconds");
}
if (!(connections >= 1 && connections <= 256)) throw new Error("--connections must be 1..256");

const hasWrk = await new Deno.Command("wrk", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then(() => true, () => false);
const tool = values.tool ?? (hasWrk ? "wrk" : "deno");
if (tool === "wrk" && !hasWrk) throw new Error("wrk is not installed (apt-get install wrk)");

const MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const ms = (text: string) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`Cannot read the wrk duration ${text}`);
  return Number(m[1]) * MS[m[2]];
};

async function wrk(url: string, key: string | null, seconds: number): Promise<LoadResult> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      join(ROOT, "bench/wrk_auth.lua"),
      url,
    ],
    env: key ? { GLOOFT_BENCH_KEY: key } : {},
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
    .exec(text)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0;
  return {
    requests,
    errors: non2xx + socketErrors,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
    p50Ms: ms(/ 50%\s+(\S+)/.exec(text)?.[1] ?? ""),
    p99Ms: ms(/ 99%\s+(\S+)/.exec(text)?.[1] ?? ""),
  };
}

function load(url: string, key: string | null, seconds: number): Promise<LoadResult> {
  if (tool === "wrk") return wrk(url, key, seconds);
  return runLoad({
    url,
    headers: key ? { authorization: `Bearer ${key}` } : {},
    connections,
    durationMs: seconds * 1000,
  });
}

const loadBefore = loadAverage();
const dir = join(ROOT, ".dev", `bench-${Date.now()}-${Deno.pid}`);
const log = (line: string) => console.error(`[bench] ${line}`);
const stack = await startStack({ dir, ports: await freePorts(), seed: false, log });
const rows: string[] = [];
try {
  const clientId = await withAdmin(stack.adminDbUrl, async (c) => {
    const { rows } = await c.query(
      "insert into public.clients (name) values ('Benchmark client') returning id",
    );
    return rows[0].id as string;
  });
  const service = createClient(stack.supabaseUrl, stack.secrets.service_role_key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { key } = await createApiKey(service, await importPepper(stack.secrets.api_key_pepper), {
    clientId,
    name: "benchmark",
    environment: "test",
    scopes: ["messages:read"],
    createdBy: "operator:bench",
  });
  // per-request log lines off on every runtime alike: this measures the app, not a console
  const env = { ...stack.appEnv, LOG_LEVEL: "warn" };

  for (const runtime of runtimes) {
    const port = await freePort();
    let app: ChildHandle;
    if (runtime === "workerd") {
      const { module } = await buildWorkerBundle(join(dir, "bundle"));
      const config = await writeWorkerdConfig({
        dir: join(dir, "bundle"),
        modules: [module],
        port,
        bindings: env,
      });
      app = await startWorkerd(config, port);
    } else {
      app = await startAppProcess({
        runtime: runtime === "wrangler" ? "workerd" : "deno",
        env,
        port,
        dir: join(dir, runtime),
        log: (line) => {
          if (/error|warn/i.test(line) && !line.includes("Request.cf")) log(`${runtime}: ${line}`);
        },
      });
    }
    try {
      // the handshake answers without a database query: the runtime and the framework alone
      const handshake = `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${
        encodeURIComponent(stack.secrets.meta_verify_token)
      }&hub.challenge=1`;
      const endpoints = [["/healthz", null], ["/v1/me", key], [handshake, null]] as const;
      for (const [endpoint, credential] of endpoints) {
        const url = `http://127.0.0.1:${port}${endpoint}`;
        const check = await fetch(url, {
          headers: credential ? { authorization: `Bearer ${credential}` } : {},
        });
        await check.body?.cancel();
        if (check.status !== 200) {
          throw new Error(`${runtime} ${endpoint} answered ${check.status}`);
        }
        log(`${runtime} GET ${endpoint}: ${warmup} s warm-up, ${duration} s measured`);
        if (warmup) await load(url, credential, warmup);
        const r = await load(url, credential, duration);
        const shown = endpoint.replace(/hub\.verify_token=[^&]+/, "hub.verify_token=…");
        rows.push(
          `| ${runtime} | GET ${shown} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${
            r.p99Ms.toFixed(2)
          } | ${r.requests} | ${r.errors} |`,
        );
      }
    } finally {
      await app.stop();
    }
  }
} finally {
  await stack.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

console.log(
  `${tool === "wrk" ? "wrk -t1" : "bench/load.ts"}, ${connections} connections, ${duration} s ` +
    `per row after ${warmup} s warm-up; ${new Date().toISOString()}; ${Deno.build.target}; ` +
    `1-min load average ${loadBefore} before, ${loadAverage()} after\n`,
);
console.log("| runtime | request | req/s | p50 ms | p99 ms | requests | errors |");
console.log("|---|---|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
