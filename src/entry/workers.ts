import { ConfigError, parseEnv } from "../config/env.ts";
import type { ErrorCode } from "../core/errors.ts";
import { composeApp } from "../compose.ts";
import { PluginRegistryError } from "../services/plugins/registry.ts";
import { cloudflareClientAddress } from "../http/client_address.ts";
import { type QueueBinding, queueDoorbell } from "../adapters/workers/queue_doorbell.ts";
import type { Job } from "../ports/jobs.ts";

type Composed = Awaited<ReturnType<typeof composeApp>>;
let composed: Promise<Composed> | undefined;

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}
interface QueueMessage {
  body: Job;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/** Parsed once per isolate; a configuration error is logged and answered with a 503. */
function boot(bindings: Record<string, unknown>): Promise<Composed> {
  composed ??= (async () => {
    const strings = Object.fromEntries(
      Object.entries(bindings).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    const queue = bindings.JOBS as QueueBinding | undefined;
    if (!queue) throw new ConfigError(["JOBS queue binding is missing (see wrangler.toml)"]);
    return await composeApp(parseEnv(strings), {
      doorbell: () => queueDoorbell(queue),
      shareWrites: false,
      // Cloudflare's edge sets CF-Connecting-IP on every request, overwriting a client's own
      clientAddress: cloudflareClientAddress,
      // the Cron Trigger in wrangler.toml: every minute
      sweepIntervalSeconds: 60,
      pluginEnv: strings,
    });
  })();
  composed.catch(() => (composed = undefined));
  return composed;
}

function bootFailure(error: unknown): Response {
  // a malformed plugin (plugins/mod.ts) is a deployment's mistake too: say which
  const message = error instanceof ConfigError || error instanceof PluginRegistryError
    ? error.message
    : "Start-up failed";
  console.error(JSON.stringify({ level: "error", event: "boot_failed", message }));
  return Response.json(
    {
      error: {
        code: "misconfigured" satisfies ErrorCode,
        message: "The service is not configured",
        request_id: null,
      },
    },
    { status: 503 },
  );
}

export default {
  async fetch(request: Request, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    let app: Composed["app"];
    try {
      ({ app } = await boot(bindings));
    } catch (error) {
      return bootFailure(error);
    }
    return app.fetch(request, { waitUntil: (p) => ctx.waitUntil(p) }, ctx as never);
  },

  /**
   * Cloudflare Queue consumer: a batch of jobs is handled together (inbox items share their
   * database round trips). A failed batch comes back later; the work is idempotent.
   */
  async queue(batch: { messages: QueueMessage[] }, bindings: Record<string, unknown>) {
    const { handleJobs, deps } = await boot(bindings);
    try {
      await handleJobs(batch.messages.map((m) => m.body));
      for (const m of batch.messages) m.ack();
    } catch (error) {
      deps.logger.error("job_batch_failed", {
        size: batch.messages.length,
        message: (error as Error).message,
      });
      for (const m of batch.messages) m.retry({ delaySeconds: 10 });
    }
  },

  /** Cron Trigger: the sweeper re-rings recorded work that is not finished. */
  async scheduled(_event: unknown, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    const { sweep } = await boot(bindings);
    ctx.waitUntil(sweep());
  },
};
