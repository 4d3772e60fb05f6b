import { basename, join, relative } from "node:path";
import { type ChildHandle, spawnChild } from "../tools/stack/postgrest.ts";
import { freePort, ROOT } from "../tools/stack/mod.ts";
import { type BrokerMessage, startQueueBroker } from "./queue_broker.ts";

export const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
export const WORKERD = join(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

/** Runs wrangler under Deno (wrangler 4 refuses Node 20) and returns its output. */
export async function wrangler(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WRANGLER, ...args],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", CI: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`wrangler ${args.join(" ")} failed:\n${text}`);
  return text;
}

/**
 * The Worker exactly as `wrangler deploy` would upload it (minified, per wrangler.toml), written to
 * `outdir` with esbuild's metafile. Returns the path of the bundled module and wrangler's output.
 */
export async function buildWorkerBundle(outdir: string) {
  const output = await wrangler([
    "deploy",
    "--dry-run",
    "--outdir",
    outdir,
    "--metafile",
    join(outdir, "meta.json"),
  ]);
  return { module: join(outdir, "workers.js"), metafile: join(outdir, "meta.json"), output };
}

/** compatibility_date and compatibility_flags from wrangler.toml, so workerd runs what deploys. */
export async function compatibility(): Promise<{ date: string; flags: string[] }> {
  const toml = await Deno.readTextFile(join(ROOT, "wrangler.toml"));
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return { date, flags: [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) };
}

const capnpString = (value: string) => JSON.stringify(value);

/** A queue that accepts every message and drops it: what workerd's producer calls expect back. */
const SINK = `export default {
  async fetch(request) {
    await request.arrayBuffer();
    return Response.json({ metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } });
  },
};`;

/**
 * Takes a batch from bench/queue_broker.ts and runs the app's queue() handler on it. The batch
 * comes framed in binary (encodeBatch), so that the Worker's CPU holds no decoding Cloudflare
 * would not do: the bodies are views into the request, handed over as workerd's producer
 * serialised them.
 */
const DISPATCHER = `export default {
  async fetch(request, env) {
    const buffer = await request.arrayBuffer();
    const head = new DataView(buffer).getUint32(0);
    const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, head)));
    let at = 4 + head;
    const messages = meta.map((m) => {
      const bytes = new Uint8Array(buffer, at, m.length);
      at += m.length;
      const base = { id: m.id, timestamp: new Date(m.timestamp), attempts: m.attempts };
      if (m.contentType === "v8") return { ...base, serializedBody: bytes };
      const text = new TextDecoder().decode(bytes);
      return { ...base, body: m.contentType === "json" ? JSON.parse(text) : text };
    });
    return Response.json(await env.APP.queue(env.QUEUE, messages));
  },
};`;

/** A batch as the dispatcher reads it: a length, JSON of the messages, then their bodies. */
function encodeBatch(messages: BrokerMessage[]): Uint8Array<ArrayBuffer> {
  const bodies = messages.map((m) => Uint8Array.fromBase64(m.body));
  const head = new TextEncoder().encode(JSON.stringify(messages.map((m, i) => ({
    id: m.id,
    timestamp: m.timestamp,
    attempts: m.attempts,
    contentType: m.contentType,
    length: bodies[i].length,
  }))));
  const out = new Uint8Array(4 + head.length + bodies.reduce((n, b) => n + b.length, 0));
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  let at = 4 + head.length;
  for (const b of bodies) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * A workerd config (Cap'n Proto text) serving `modules` (the first is the main one; each is named
 * by its file name; all must live in `dir`, as Cap'n Proto reads a leading "/" in embed paths as
 * its own import root) on 127.0.0.1:`port` with `bindings` as text bindings, a JOBS queue binding,
 * and outbound fetch allowed to loopback so the Worker reaches the local Supabase gateway. This is
 * workerd without wrangler dev's proxy layers in front: the runtime, not the tooling.
 *
 * JOBS goes to `queue`, the address of a broker (bench/queue_broker.ts), or else to a sink that
 * accepts and drops every message. With `dispatchPort`, a second socket there takes a batch from
 * the broker and hands it to the Worker's queue() handler, as Cloudflare invokes a consumer
 * (workerd's Fetcher.queue(), which needs the service_binding_extra_handlers flag).
 */
export async function writeWorkerdConfig(options: {
  dir: string;
  modules: string[];
  port: number;
  bindings: Record<string, string>;
  queue?: string;
  dispatchPort?: number;
  /** the queue's name, as the consumer sees it in batch.queue */
  queueName?: string;
}): Promise<string> {
  const { date, flags } = await compatibility();
  const bindings = Object.entries(options.bindings)
    .map(([name, value]) => `(name = ${capnpString(name)}, text = ${capnpString(value)})`)
    .concat(`(name = "JOBS", queue = "jobs")`);
  const jobs = options.queue
    ? `(name = "jobs", external = (address = ${capnpString(options.queue)}, http = ()))`
    : `(name = "jobs", worker = .sink)`;
  const dispatch = options.dispatchPort
    ? {
      service: `(name = "dispatch", worker = .dispatch),`,
      socket: `, (name = "dispatch", address = "127.0.0.1:${options.dispatchPort}", http = (), ` +
        `service = "dispatch")`,
      worker: `const dispatch :Workerd.Worker = (
  modules = [(name = "dispatch.js", esModule = ${capnpString(DISPATCHER)})],
  compatibilityDate = ${capnpString(date)},
  compatibilityFlags = ["service_binding_extra_handlers"],
  bindings = [(name = "APP", service = "main"), (name = "QUEUE", text = ${
        capnpString(options.queueName ?? "glooft-edge-jobs")
      })],
);
`,
    }
    : { service: "", socket: "", worker: "" };
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    ${jobs},
    ${dispatch.service}
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${options.port}", http = (), service = "main")${dispatch.socket}],
);
const app :Workerd.Worker = (
  modules = [${
    options.modules.map((m) =>
      `(name = ${capnpString(basename(m))}, esModule = embed ${
        capnpString(relative(options.dir, m))
      })`
    )
      .join(", ")
  }],
  compatibilityDate = ${capnpString(date)},
  compatibilityFlags = [${flags.map(capnpString).join(", ")}],
  bindings = [${bindings.join(",\n    ")}],
);
const sink :Workerd.Worker = (
  modules = [(name = "sink.js", esModule = ${capnpString(SINK)})],
  compatibilityDate = ${capnpString(date)},
);
${dispatch.worker}`;
  const path = join(options.dir, `workerd-${options.port}.capnp`);
  await Deno.writeTextFile(path, config, { mode: 0o600 });
  return path;
}

/**
 * Starts workerd on a config written by writeWorkerdConfig; resolves once it accepts TCP. A config
 * with a `dispatchPort` needs `experimental` (its dispatcher's flag; the app's are wrangler.toml's).
 */
export async function startWorkerd(
  config: string,
  port: number,
  options: { experimental?: boolean; inspectorPort?: number } = {},
): Promise<ChildHandle> {
  const args = ["serve", config];
  if (options.experimental) args.push("--experimental");
  if (options.inspectorPort) args.push(`--inspector-addr=127.0.0.1:${options.inspectorPort}`);
  const child = spawnChild("workerd", WORKERD, args, {
    env: {},
    log: (line) => {
      // the flag is still in wrangler.toml for older deploy targets; the notice is noise here
      if (!line.includes("became the default")) console.error(`[workerd] ${line}`);
    },
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  await child.stop();
  throw new Error(`workerd did not listen on ${port} within 10 s`);
}

/** The queue consumer's settings in wrangler.toml (what Cloudflare batches by). */
export async function consumerSettings(): Promise<
  { batchSize: number; batchTimeoutMs: number; maxAttempts: number }
> {
  const toml = await Deno.readTextFile(join(ROOT, "wrangler.toml"));
  const block = /\[\[queues\.consumers\]\]([^[]*)/.exec(toml)?.[1] ?? "";
  const read = (key: string, fallback: number) =>
    Number(new RegExp(`^${key}\\s*=\\s*(\\d+)`, "m").exec(block)?.[1] ?? fallback);
  return {
    // Cloudflare's defaults where wrangler.toml says nothing
    batchSize: read("max_batch_size", 10),
    batchTimeoutMs: read("max_batch_timeout", 5) * 1000,
    maxAttempts: read("max_retries", 3) + 1,
  };
}

/**
 * The deploy bundle served by workerd alone on 127.0.0.1:`port`, its JOBS queue a broker in this
 * process (bench/queue_broker.ts) that drives the Worker's queue() handler as Cloudflare does:
 * batches of wrangler.toml's max_batch_size, after its max_batch_timeout, `concurrency` batches
 * at a time. The broker outlives the Worker: `restart()` starts workerd again on the same port,
 * its queue's backlog still there.
 */
export async function startWorkerApp(options: {
  env: Record<string, string>;
  port: number;
  dir: string;
  concurrency?: number;
  /** start with the consumer held (release it with `broker.release()`) */
  held?: boolean;
  inspectorPort?: number;
}) {
  const bundleDir = join(options.dir, "bundle");
  const { module } = await buildWorkerBundle(bundleDir);
  const dispatchPort = await freePort();
  const settings = await consumerSettings();
  const broker = startQueueBroker({
    held: options.held,
    consumer: {
      ...settings,
      concurrency: options.concurrency ?? 4,
      async dispatch(messages) {
        const res = await fetch(`http://127.0.0.1:${dispatchPort}/`, {
          method: "POST",
          body: encodeBatch(messages),
        });
        if (!res.ok) throw new Error(`The dispatcher answered ${res.status}: ${await res.text()}`);
        return await res.json();
      },
    },
  });
  const config = await writeWorkerdConfig({
    dir: bundleDir,
    modules: [module],
    port: options.port,
    bindings: options.env,
    queue: broker.address,
    dispatchPort,
  });
  const start = () =>
    startWorkerd(config, options.port, {
      experimental: true,
      inspectorPort: options.inspectorPort,
    });
  let child = await start();
  return {
    broker,
    bundle: module,
    get pid() {
      return child.pid;
    },
    async restart() {
      await child.stop();
      child = await start();
    },
    stopWorker: () => child.stop(),
    async stop() {
      await child.stop();
      await broker.close();
    },
  };
}
