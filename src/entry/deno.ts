import { ConfigError, parseEnv } from "../config/env.ts";
import { composeApp } from "../compose.ts";

/** Deno composition root: the same app as on Workers, served with Deno.serve. */
if (import.meta.main) {
  let env;
  try {
    env = parseEnv(Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\nSee .dev.vars.example and README.md (Configuration).`);
    Deno.exit(78);
  }
  const { app, deps } = await composeApp(env);
  const port = Number(Deno.env.get("PORT") ?? 8787);
  const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
  const server = Deno.serve({
    port,
    hostname,
    onListen: ({ hostname, port }) =>
      deps.logger.info("listening", { url: `http://${hostname}:${port}`, runtime: "deno" }),
  }, (req, info) => {
    const addr = info.remoteAddr as Deno.NetAddr;
    return app.fetch(req, { remoteAddr: addr.hostname, waitUntil: () => {} });
  });
  const stop = async () => {
    await server.shutdown();
    await deps.requestLog.flush();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
