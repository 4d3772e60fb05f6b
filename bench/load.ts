import { parseArgs } from "node:util";
import { percentile } from "./stats.ts";

export interface LoadResult {
  requests: number;
  /** answers other than 2xx, and requests that failed outright */
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

const MAX_DURATION_MS = 120_000;
const MAX_CONNECTIONS = 256;

/**
 * A small closed-loop load generator: `connections` loops each send one request, wait for the
 * whole answer, and send the next, for `durationMs`. Bounded in time and concurrency, loopback
 * only. It shares the event loop with its own measurements, so on a busy machine it saturates
 * sooner than wrk: use it where wrk is not installed, and compare figures from one tool only.
 */
export async function runLoad(options: {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  durationMs: number;
}): Promise<LoadResult> {
  const { hostname } = new URL(options.url);
  if (hostname !== "127.0.0.1" && hostname !== "localhost") {
    throw new Error("The load generator only targets 127.0.0.1");
  }
  if (options.durationMs > MAX_DURATION_MS || options.connections > MAX_CONNECTIONS) {
    throw new Error(`At most ${MAX_DURATION_MS} ms and ${MAX_CONNECTIONS} connections`);
  }
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: options.connections });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + options.durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const res = await fetch(options.url, { headers: options.headers, client });
        await res.arrayBuffer();
        if (!res.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const elapsed = (performance.now() - started) / 1000;
  client.close();
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      connections: { type: "string", short: "c", default: "16" },
      duration: { type: "string", short: "d", default: "10" },
      header: { type: "string", short: "H", multiple: true, default: [] },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(`deno run -A bench/load.ts [-c CONNECTIONS] [-d SECONDS] [-H "Name: value"] URL

Closed-loop load against one 127.0.0.1 URL; prints requests/s and p50/p99 latency.`);
    Deno.exit(values.help ? 0 : 1);
  }
  const headers = Object.fromEntries(
    values.header.map((
      h,
    ) => [h.slice(0, h.indexOf(":")).trim(), h.slice(h.indexOf(":") + 1).trim()]),
  );
  const result = await runLoad({
    url: positionals[0],
    headers,
    connections: Number(values.connections),
    durationMs: Number(values.duration) * 1000,
  });
  console.log(JSON.stringify(result, null, 2));
}
