import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { createHmac } from "node:crypto";
import { createClient } from "@supabase/supabase-js";
import { createApiKey } from "../src/adapters/supabase/api_keys_store.ts";
import { importPepper } from "../src/core/auth/api_keys.ts";
import { withAdmin } from "../tools/stack/database.ts";
import { startAppProcess } from "../tools/stack/app_process.ts";
import type { ChildHandle } from "../tools/stack/postgrest.ts";
import { freePort, freePorts, ROOT, startStack } from "../tools/stack/mod.ts";
import { buildStatus } from "../tests/_support/meta_payloads.ts";
import { type LoadResult, runLoad } from "./load.ts";
import { startQueueBroker } from "./queue_broker.ts";
import { loadAverage, treeCpuSeconds } from "./stats.ts";
import { type CpuProfile, profileWorker, summarizeProfile } from "./cpu_profile.ts";
import { buildWorkerBundle, startWorkerd, writeWorkerdConfig } from "./workerd.ts";
import { spawnChild } from "../tools/stack/postgrest.ts";
import { hasWrk, replayScript, runWrk } from "./wrk.ts";

const RUNTIMES = ["deno", "workerd", "wrangler"] as const;
type Runtime = (typeof RUNTIMES)[number];
const ENDPOINTS = ["healthz", "me", "handshake", "webhook", "floor"] as const;
type Endpoint = (typeof ENDPOINTS)[number];

const HELP = `deno task bench:http [options]

Requests/s, p50/p99 latency and the app's own CPU per request, with the app on each runtime
against a throwaway local stack (embedded PostgreSQL, PostgREST, the Supabase-style gateway) on
free ports. Prints a markdown table. Traffic goes to 127.0.0.1 only.

Requests (--endpoints):
  healthz    GET /healthz: one database round trip
  me         GET /v1/me with an API key: the key (cached 10 s) and one read of the client
  handshake  GET /webhooks/whatsapp, Meta's verify handshake: no database at all, the runtime and
             the framework alone
  webhook    POST /webhooks/whatsapp: a signed Meta delivery (one status event, ~700 B), each one
             different, verified and kept before the answer: what Meta's traffic costs. Deno
             records it in the inbox and rings its in-process job; workerd queues it, and its
             consumer records it (here the queue is a sink in this process, so nothing is
             recorded); wrangler dev runs its local consumer. The deliveries name a phone number
             nobody owns, so the work after the answer is small; on Deno it runs in the same
             process and is in its row. Needs wrk (deliveries are prepared and signed first).
  floor      the handshake's answer from a one-line handler on the same runtime, without the
             app (Deno.serve; a one-module Worker in workerd): the most requests/s the runtime
             itself serves here, the ceiling of the handshake row. Not for wrangler

Runtimes:
  deno      src/entry/deno.ts (deno run -A)
  workerd   the deploy bundle (wrangler deploy --dry-run) in workerd itself, no wrangler in front
  wrangler  wrangler dev: workerd behind wrangler's local proxy, as in \`deno task dev:workers\`

"app CPU" is the CPU time of the app's processes (workerd, or Deno, or wrangler with its workerd)
during the measured seconds, per request answered: what the runtime spent, whatever waited on the
database. It is read from /proc (Linux).

Options:
  --runtimes LIST     comma-separated (default deno,workerd,wrangler)
  --endpoints LIST    comma-separated (default healthz,me,handshake,webhook,floor)
  --duration S        seconds of measured load per endpoint (default 10, at most 60)
  --warmup S          seconds of unmeasured load first (default 3)
  --connections N     concurrent connections (default 16)
  --tool wrk|deno     wrk (default when on PATH; apt-get install wrk) or bench/load.ts
  --profile DIR       workerd only: sample the Worker's CPU through workerd's inspector during
                      each measured run, print where it went (by package and function, through
                      the bundle's source map) and keep each profile in DIR as
                      <endpoint>.cpuprofile (Chrome DevTools opens it). Sampling slows the rows.
  -h, --help          show this help`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runtimes: { type: "string", default: RUNTIMES.join(",") },
    endpoints: { type: "string", default: ENDPOINTS.join(",") },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "16" },
    tool: { type: "string" },
    profile: { type: "string" },
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
const endpoints = values.endpoints.split(",") as Endpoint[];
for (const e of endpoints) {
  if (!ENDPOINTS.includes(e)) throw new Error(`Unknown endpoint ${e}: use ${ENDPOINTS.join(", ")}`);
}
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const connections = Number(values.connections);
if (!(duration > 0 && duration <= 60) || !(warmup >= 0 && warmup <= 30)) {
  throw new Error("--duration must be 1..60 and --warmup 0..30 seconds");
}
if (!(connections >= 1 && connections <= 256)) throw new Error("--connections must be 1..256");

const wrkInstalled = await hasWrk();
const tool = values.tool ?? (wrkInstalled ? "wrk" : "deno");
if (tool === "wrk" && !wrkInstalled) throw new Error("wrk is not installed (apt-get install wrk)");
if (endpoints.includes("webhook") && tool !== "wrk") {
  throw new Error("The webhook row needs wrk (apt-get install wrk), or leave it out (--endpoints)");
}

/** the most signed webhooks per second this machine could take: deliveries are made for that */
const WEBHOOK_RATE_CEILING = 6000;
const UNOWNED_NUMBER = "106540352240000";

/** Unique signed deliveries of one status event each, for a number nobody owns. */
function* deliveries(secret: string, tag: string, count: number) {
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{
        id: "102290129340000",
        changes: [{
          field: "messages",
          value: {
            messaging_product: "whatsapp",
            metadata: { display_phone_number: "15550009999", phone_number_id: UNOWNED_NUMBER },
            statuses: [
              buildStatus({
                id: `wamid.HTTP${tag}${i}`,
                status: "delivered",
                recipientId: "447700900000",
              }),
            ],
          },
        }],
      }],
    });
    yield { signature: `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`, body };
  }
}

function load(
  url: string,
  how: { key?: string; script?: string },
  seconds: number,
): Promise<LoadResult & { wrapped?: boolean }> {
  if (tool === "wrk") {
    return runWrk({
      url,
      connections,
      seconds,
      script: how.script ?? join(ROOT, "bench/wrk_auth.lua"),
      env: how.key ? { GLOOFT_BENCH_KEY: how.key } : {},
    });
  }
  return runLoad({
    url,
    headers: how.key ? { authorization: `Bearer ${how.key}` } : {},
    connections,
    durationMs: seconds * 1000,
  });
}

/** What the handshake answers, without the app: one module both runtimes serve as it is. */
const FLOOR = `export default {
  fetch(request) {
    return new Response(new URL(request.url).searchParams.get("hub.challenge") ?? "");
  },
};
`;

/** The one-line handler on `runtime` at 127.0.0.1:`port` (deno serve, or workerd alone). */
async function startFloor(runtime: "deno" | "workerd", dir: string, port: number, queue: string) {
  await Deno.mkdir(dir, { recursive: true });
  const module = join(dir, "floor.js");
  await Deno.writeTextFile(module, FLOOR);
  if (runtime === "workerd") {
    const config = await writeWorkerdConfig({ dir, modules: [module], port, bindings: {}, queue });
    return await startWorkerd(config, port);
  }
  const child = spawnChild("deno-floor", Deno.execPath(), [
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    module,
  ], {
    env: { HOME: Deno.env.get("HOME") ?? "/tmp" },
    log: (line) => /error/i.test(line) && log(`floor: ${line}`),
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await child.stop();
  throw new Error(`deno serve did not listen on ${port} within 10 s`);
}

const loadBefore = loadAverage();
const dir = join(ROOT, ".dev", `bench-${Date.now()}-${Deno.pid}`);
const log = (line: string) => console.error(`[bench] ${line}`);
const stack = await startStack({ dir, ports: await freePorts(), seed: false, log });
const rows: string[] = [];
const profiles: string[] = [];
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

  let bundle: string | undefined;
  const measure = async (
    runtime: Runtime,
    endpoint: Endpoint,
    base: string,
    pid: number,
    inspectorPort?: number,
  ) => {
    let url = `${base}/healthz`;
    let shown = "GET /healthz";
    let how: { key?: string; script?: string } = {};
    let check: RequestInit = {};
    if (endpoint === "me") {
      url = `${base}/v1/me`;
      shown = "GET /v1/me";
      how = { key };
      check = { headers: { authorization: `Bearer ${key}` } };
    } else if (endpoint === "handshake") {
      url = `${base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${
        encodeURIComponent(stack.secrets.meta_verify_token)
      }&hub.challenge=1`;
      shown = "GET /webhooks/whatsapp (handshake)";
    } else if (endpoint === "floor") {
      url = `${base}/webhooks/whatsapp?hub.challenge=1`;
      shown = "one-line handler (the runtime's floor)";
    } else if (endpoint === "webhook") {
      url = `${base}/webhooks/whatsapp`;
      shown = "POST /webhooks/whatsapp (signed)";
      const replayDir = join(dir, `replay-${runtime}`);
      await Deno.mkdir(replayDir, { recursive: true });
      const count = WEBHOOK_RATE_CEILING * (warmup + duration) + 1;
      const made = [...deliveries(stack.secrets.meta_app_secret, runtime, count)];
      // the first one checks the route; wrk replays the rest
      const first = made.shift()!;
      check = {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature-256": first.signature },
        body: first.body,
      };
      const replay = await replayScript(
        replayDir,
        ["x-hub-signature-256"],
        made.map((e) => ({ values: [e.signature], body: e.body })),
      );
      how = { script: replay.script };
    }
    const res = await fetch(url, check);
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`${runtime} ${shown} answered ${res.status}`);
    log(`${runtime} ${shown}: ${warmup} s warm-up, ${duration} s measured`);
    // the measured run starts past the deliveries the warm-up sent: a repeat is a duplicate,
    // which costs less and would flatter the row
    if (warmup) {
      if (endpoint === "webhook") await dropFirst(how.script!, warmup);
      else await load(url, how, warmup);
    }
    const profiler = inspectorPort ? await profileWorker(inspectorPort) : null;
    await profiler?.start();
    const cpuBefore = treeCpuSeconds(pid);
    const r = await load(url, how, duration);
    const cpu = treeCpuSeconds(pid) - cpuBefore;
    if (profiler) {
      await keepProfile(endpoint, shown, await profiler.stop());
      profiler.close();
    }
    if (r.wrapped) log(`${runtime} ${shown}: wrk ran out of deliveries and repeated some`);
    const cpuUs = r.requests ? (cpu / r.requests) * 1e6 : NaN;
    return `| ${runtime} | ${shown} | ${r.rps.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${
      r.p99Ms.toFixed(2)
    } | ${Number.isFinite(cpuUs) ? cpuUs.toFixed(0) : "?"} | ${r.requests} | ${r.errors} |`;

    /** runs the warm-up over the script's deliveries, then drops the ones it sent */
    async function dropFirst(script: string, seconds: number) {
      const r = await load(url, { script }, seconds);
      const file = join(dirname(script), "replay.txt");
      const lines = (await Deno.readTextFile(file)).split("\n");
      await Deno.writeTextFile(file, lines.slice(r.requests + connections).join("\n"));
    }
  };

  const keepProfile = async (endpoint: Endpoint, shown: string, profile: CpuProfile) => {
    await Deno.mkdir(values.profile!, { recursive: true });
    const file = join(values.profile!, `${endpoint}.cpuprofile`);
    await Deno.writeTextFile(file, JSON.stringify(profile));
    profiles.push(`### workerd ${shown} (${file})\n\n${await summarizeProfile(profile, bundle!)}`);
  };

  // the queue of the workerd row: a sink in this process, so that it costs the Worker nothing
  const sink = startQueueBroker();
  try {
    for (const runtime of runtimes) {
      const port = await freePort();
      let app: ChildHandle;
      let inspectorPort: number | undefined;
      if (runtime === "workerd") {
        bundle ??= (await buildWorkerBundle(join(dir, "bundle"))).module;
        const config = await writeWorkerdConfig({
          dir: join(dir, "bundle"),
          modules: [bundle],
          port,
          bindings: env,
          queue: sink.address,
        });
        inspectorPort = values.profile ? await freePort() : undefined;
        app = await startWorkerd(config, port, { inspectorPort });
      } else {
        app = await startAppProcess({
          runtime: runtime === "wrangler" ? "workerd" : "deno",
          env,
          port,
          dir: join(dir, runtime),
          log: (line) => {
            if (/error|warn/i.test(line) && !line.includes("Request.cf")) {
              log(`${runtime}: ${line}`);
            }
          },
        });
      }
      try {
        for (const endpoint of endpoints) {
          if (endpoint === "floor") continue;
          rows.push(
            await measure(runtime, endpoint, `http://127.0.0.1:${port}`, app.pid, inspectorPort),
          );
        }
      } finally {
        await app.stop();
      }
      if (endpoints.includes("floor") && runtime !== "wrangler") {
        const floorPort = await freePort();
        const floor = await startFloor(runtime, join(dir, "floor"), floorPort, sink.address);
        try {
          rows.push(await measure(runtime, "floor", `http://127.0.0.1:${floorPort}`, floor.pid));
        } finally {
          await floor.stop();
        }
      }
    }
  } finally {
    await sink.close();
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
console.log(
  "| runtime | request | req/s | p50 ms | p99 ms | app CPU µs/request | requests | errors |",
);
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
for (const profile of profiles) console.log(`\n${profile}`);
