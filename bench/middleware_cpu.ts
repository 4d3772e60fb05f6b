import { parseArgs } from "node:util";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { requestContext } from "../src/http/middleware/request_context.ts";
import { trustedProxyClientAddress } from "../src/http/client_address.ts";
import { contentSecurityPolicy } from "../src/http/middleware/content_security_policy.ts";
import { jsonLogger } from "../src/adapters/logging/json_logger.ts";
import type { AppEnv } from "../src/http/types.ts";
import { processCpu } from "./stats.ts";

const HELP = `deno run -A bench/middleware_cpu.ts [--seconds S] [--connections C]

CPU per request of the app's shared middleware under Deno.serve, measured as this process's CPU
time over a wrk run (apt-get install wrk) of S seconds per variant, divided by the requests
served. Each variant answers POST /webhooks/whatsapp (a ~740 B body) with a small JSON body:
  bare            Hono and the route alone
  request id      + requestContext (src/http/middleware/request_context.ts, log rows dropped)
  + browser headers  + Hono's secureHeaders and the Content-Security-Policy middleware, as
                     src/app.ts configures them (all routes but webhooks)
Traffic goes to 127.0.0.1 only; the VM's own noise is often ±20 %, so compare within one run.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "8" },
    connections: { type: "string", default: "64" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

const ownCpuSeconds = () => processCpu().get(Deno.pid)?.seconds ?? NaN;

function variant(withContext: boolean, withHeaders: boolean) {
  const app = new Hono<AppEnv>();
  if (withContext) {
    app.use(requestContext({
      logger: jsonLogger({ level: "error", base: {} }),
      sink: { record: () => Promise.resolve() },
      clientAddress: trustedProxyClientAddress([]),
    }));
  }
  if (withHeaders) {
    app.use(secureHeaders({ crossOriginResourcePolicy: "same-origin" }));
    app.use(contentSecurityPolicy());
  }
  app.post("/webhooks/whatsapp", async (c) => {
    await c.req.arrayBuffer();
    return c.json({ received: true, duplicate: false }, 200);
  });
  return app;
}

const dir = await Deno.makeTempDir({ prefix: "middleware-cpu-" });
const script = `${dir}/post.lua`;
await Deno.writeTextFile(
  script,
  `wrk.method = "POST"\nwrk.body = string.rep("x", 740)\nwrk.headers["content-type"] = "application/json"\n`,
);
const rows: string[] = [];
try {
  for (
    const [name, ctx, headers] of [
      ["bare", false, false],
      ["request id", true, false],
      ["request id + browser headers", true, true],
    ] as const
  ) {
    const app = variant(ctx, headers);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => app.fetch(req, { remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname }),
    );
    const url = `http://127.0.0.1:${server.addr.port}/webhooks/whatsapp`;
    const before = ownCpuSeconds();
    const out = await new Deno.Command("wrk", {
      args: ["-t1", `-c${values.connections}`, `-d${values.seconds}s`, "-s", script, url],
      stdout: "piped",
    }).output();
    const used = ownCpuSeconds() - before;
    await server.shutdown();
    const text = new TextDecoder().decode(out.stdout);
    const m = text.match(/(\d+) requests in/);
    if (!out.success || !m) throw new Error(`wrk failed:\n${text}`);
    const requests = Number(m[1]);
    rows.push(
      `| ${name} | ${Math.round(requests / Number(values.seconds))} | ${
        (used / requests * 1e6).toFixed(1)
      } µs |`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
console.log(["| variant | requests/s | CPU per request |", "|---|---:|---:|", ...rows].join("\n"));
