import { ConfigError, parseEnv } from "../config/env.ts";
import type { ErrorCode } from "../core/errors.ts";
import { composeApp } from "../compose.ts";
import { PluginRegistryError } from "../services/plugins/registry.ts";
import { cloudflareClientAddress } from "../http/client_address.ts";
import { type QueueBinding, queueDoorbell } from "../adapters/workers/queue_doorbell.ts";
import {
  isRequestLogMessage,
  queueRequestLog,
  type QueueSend,
  type RequestLogMessage,
} from "../adapters/workers/queue_request_log.ts";
import type { Job } from "../ports/jobs.ts";

type Composed = Awaited<ReturnType<typeof composeApp>>;
let composed: Promise<Composed> | undefined;
/** the composed app once boot() has finished: requests after the first go straight to it */
let ready: Composed | undefined;

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}
interface QueueMessage<B = Job | RequestLogMessage> {
  body: B;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

const isClaimedDelivery = (body: unknown) =>
  (body as Job).kind === "inbox" && (body as Extract<Job, { kind: "inbox" }>).claimed !== undefined;

/** a failed batch comes back after this long (the sweeper is the backstop for jobs) */
const RETRY_DELAY_SECONDS = 10;

/** Parsed once per isolate; a configuration error is logged and answered with a 503. */
function boot(bindings: Record<string, unknown>): Promise<Composed> {
  composed ??= (async () => {
    const strings = Object.fromEntries(
      Object.entries(bindings).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    const queue = bindings.JOBS as (QueueBinding & QueueSend) | undefined;
    if (!queue) throw new ConfigError(["JOBS queue binding is missing (see wrangler.toml)"]);
    return await composeApp(parseEnv(strings), {
      doorbell: () => queueDoorbell(queue),
      // the consumer below writes a batch's entries together
      requestLog: queueRequestLog(queue),
      shareWrites: false,
      // Cloudflare's edge sets CF-Connecting-IP on every request, overwriting a client's own
      clientAddress: cloudflareClientAddress,
      // the Cron Trigger in wrangler.toml: every minute
      sweepIntervalSeconds: 60,
      pluginEnv: strings,
    });
  })();
  composed.then((c) => (ready = c), () => (composed = undefined));
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

async function bootAndFetch(
  request: Request,
  bindings: Record<string, unknown>,
  ctx: ExecutionContext,
): Promise<Response> {
  let app: Composed["app"];
  try {
    ({ app } = await boot(bindings));
  } catch (error) {
    return bootFailure(error);
  }
  return app.fetch(request, ctx, ctx as never);
}

export default {
  // the context is the app's runtime bindings as it is: it has waitUntil, and no socket peer
  fetch(request: Request, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    return ready
      ? ready.app.fetch(request, ctx, ctx as never)
      : bootAndFetch(request, bindings, ctx);
  },

  /**
   * Cloudflare Queue consumer: a batch of jobs is handled together (inbox items share their
   * database round trips), and the request log entries in it are written in one insert. Each part
   * is acknowledged on its own, so a failed job does not write the log entries twice; what failed
   * comes back later, and the work is idempotent.
   */
  async queue(batch: { messages: QueueMessage[] }, bindings: Record<string, unknown>) {
    const { handleJobs, writeRequestLog, deps } = await boot(bindings);
    const logs: QueueMessage<RequestLogMessage>[] = [];
    const jobs: QueueMessage<Job>[] = [];
    for (const m of batch.messages) {
      if (isRequestLogMessage(m.body)) logs.push(m as QueueMessage<RequestLogMessage>);
      else jobs.push(m as QueueMessage<Job>);
    }
    const settle = async (
      messages: QueueMessage[],
      event: string,
      work: () => Promise<unknown>,
    ) => {
      if (!messages.length) return;
      try {
        await work();
        for (const m of messages) m.ack();
      } catch (error) {
        deps.logger.error(event, {
          size: messages.length,
          message: (error as Error).message,
        });
        for (const m of messages) {
          // a delivery written claimed is in the inbox, released with its backoff or leased
          // until the sweeper takes it: a retry would carry its claim past both
          if (isClaimedDelivery(m.body)) m.ack();
          else m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
        }
      }
    };
    await Promise.all([
      settle(
        logs,
        "request_log_batch_failed",
        () => writeRequestLog(logs.map((m) => m.body.entry)),
      ),
      settle(jobs, "job_batch_failed", () => handleJobs(jobs.map((m) => m.body))),
    ]);
  },

  /** Cron Trigger: the sweeper re-rings recorded work that is not finished. */
  async scheduled(_event: unknown, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    const { sweep } = await boot(bindings);
    ctx.waitUntil(sweep());
  },
};
