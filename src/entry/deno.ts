import * as nodeCrypto from "node:crypto";
import { ConfigError, parseEnv } from "../config/env.ts";
import { installSyncCrypto, type SyncCryptoEngine } from "../core/crypto/engine.ts";
import { composeApp } from "../compose.ts";
import { fileURLToPath } from "node:url";
import { localDoorbell } from "../adapters/deno/local_doorbell.ts";
import { pinnedWebhookEgress } from "../adapters/deno/pinned_webhook_egress.ts";
import { staticFiles } from "../adapters/deno/static_files.ts";
import { jsonLogger } from "../adapters/logging/json_logger.ts";
import { PluginRegistryError } from "../services/plugins/registry.ts";
import type { Doorbell } from "../ports/jobs.ts";

/**
 * Deno composition root: the same app as on Workers, served with Deno.serve; jobs run in-process
 * (the doorbell) and the sweeper runs on a timer, as the Cron Trigger does on Workers.
 * `doorbell` wraps the in-process one: the ingest benchmark holds jobs back with it, to time
 * acknowledging and processing apart (bench/deno_held_jobs.ts).
 */
export async function serveDeno(options: { doorbell?: (local: Doorbell) => Doorbell } = {}) {
  // before any key is imported: AES-GCM and HMAC without Deno's per-call async op cost
  installSyncCrypto(nodeCrypto as unknown as SyncCryptoEngine);
  let env;
  try {
    env = parseEnv(Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\nSee .dev.vars.example and README.md (Configuration).`);
    Deno.exit(78);
  }
  const jobLogger = jsonLogger({ level: env.LOG_LEVEL, base: { service: "glooft-edge" } });
  let bell: ReturnType<typeof localDoorbell> | undefined;
  const composed = await composeApp(env, {
    // few, large batches: a batch's calls cost about the same for 5 items as for 50, so on a
    // small host more concurrent batches only shrink each one and contend in the database. Two of
    // 100 cost less CPU per webhook than four of 25, and than two of 200 once a client endpoint
    // listens (the ingest benchmark of docs/benchmarks.md; the runs: docs/benchmarks-log.md)
    doorbell: (handle) => {
      bell = localDoorbell({ handle, logger: jobLogger, concurrency: 2, batchSize: 100 });
      return options.doorbell?.(bell) ?? bell;
    },
    // nothing in front of a Deno host keeps a client's webhook URL out of our own network
    webhookEgress: pinnedWebhookEgress(),
    pluginEnv: Deno.env.toObject(),
  }).catch((error) => {
    // a malformed plugin (plugins/mod.ts) stops the app before it serves anything, saying why
    if (!(error instanceof PluginRegistryError)) throw error;
    console.error(`${error.message}\nSee docs/plugins.md.`);
    Deno.exit(78);
  });
  const { app, deps, sweep, withdrawKeyReport } = composed;
  // public/ as Workers serves it (wrangler.toml [assets]): files first, then the app
  const assets = await staticFiles(fileURLToPath(new URL("../../public", import.meta.url)));
  if (assets.missing.length) {
    deps.logger.warn("static_files_missing", {
      files: assets.missing.join(", "),
      hint: "run npm install: these link into node_modules",
    });
  }
  const port = Number(Deno.env.get("PORT") ?? 8787);
  const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
  const server = Deno.serve({
    port,
    hostname,
    onListen: ({ hostname, port }) =>
      deps.logger.info("listening", { url: `http://${hostname}:${port}`, runtime: "deno" }),
  }, async (req, info) => {
    const file = await assets.serve(req);
    if (file) return file;
    const addr = info.remoteAddr as Deno.NetAddr;
    return app.fetch(req, { remoteAddr: addr.hostname, waitUntil: () => {} });
  });
  const sweeper = setInterval(() => {
    sweep().catch((e) => deps.logger.error("sweep_failed", { message: (e as Error).message }));
  }, env.SWEEP_INTERVAL_SECONDS * 1000);
  // work recorded before a restart is picked up at once, not a sweep interval later
  sweep().catch((e) => deps.logger.error("sweep_failed", { message: (e as Error).message }));
  const stop = async () => {
    clearInterval(sweeper);
    await server.shutdown();
    bell?.close();
    // the last request log rows are best effort: the database may be the thing going away
    await deps.requestLog.flush().catch((e) =>
      deps.logger.warn("request_log_lost", { message: (e as Error).message })
    );
    await withdrawKeyReport().catch((e) =>
      deps.logger.warn("master_key_report_not_withdrawn", { message: (e as Error).message })
    );
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await serveDeno();
