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
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

const isClaimedDelivery = (body: unknown) =>
  (body as Job).kind === "inbox" && (body as Extract<Job, { kind: "inbox" }>).claimed !== undefined;

/** a failed job comes back after this long (the sweeper is the backstop for jobs) */
const RETRY_DELAY_SECONDS = 10;
/** what a message that is its own only record waits at most between attempts */
const MAX_RETRY_DELAY_SECONDS = 300;
/**
 * Below wrangler.toml's max_retries (10), after which Cloudflare drops a message: a message that
 * is its own only record is sent again as a new one by then, so no outage outlasts it.
 */
const RESEND_AFTER_ATTEMPTS = 6;

/**
 * A failed message that is the only record of what it carries (a delivery not yet in the inbox,
 * a request log entry) comes back later, waiting longer each time, and is sent again as a new
 * message before Cloudflare's retries run out: a database outage, however long, loses none.
 */
async function retryRecord(queue: QueueSend & QueueBinding, m: QueueMessage) {
  const delaySeconds = Math.min(
    MAX_RETRY_DELAY_SECONDS,
    RETRY_DELAY_SECONDS * 2 ** (m.attempts - 1),
  );
  if (m.attempts < RESEND_AFTER_ATTEMPTS) return m.retry({ delaySeconds });
  try {
    await queue.send(m.body as Job, { delaySeconds });
    m.ack();
  } catch {
    m.retry({ delaySeconds });
  }
}

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
   * Cloudflare Queue consumer. A batch holds three kinds of message, each settled on its own so
   * that one's failure does not run the others twice: request log entries (written in one
   * insert), deliveries not yet recorded (recorded in one insert per provider, then processed),
   * and jobs for recorded rows (handled together: inbox items share their round trips). The
   * first two are the only record of what they carry until written, so they come back until they
   * are (retryRecord); the jobs' rows are in the database, and the sweeper is their backstop.
   */
  async queue(batch: { messages: QueueMessage[] }, bindings: Record<string, unknown>) {
    const { handleJobs, writeRequestLog, deps } = await boot(bindings);
    const queue = bindings.JOBS as QueueSend & QueueBinding;
    const logs: QueueMessage<RequestLogMessage>[] = [];
    const deliveries: QueueMessage<Job>[] = [];
    const jobs: QueueMessage<Job>[] = [];
    for (const m of batch.messages) {
      if (isRequestLogMessage(m.body)) logs.push(m as QueueMessage<RequestLogMessage>);
      else if ((m.body as Job).kind === "delivery") deliveries.push(m as QueueMessage<Job>);
      else jobs.push(m as QueueMessage<Job>);
    }
    const settle = async (
      messages: QueueMessage[],
      event: string,
      work: () => Promise<unknown>,
      onFailure: (m: QueueMessage) => unknown,
    ) => {
      if (!messages.length) return;
      try {
        await work();
        for (const m of messages) m.ack();
      } catch (error) {
        deps.logger.error(event, { size: messages.length, message: (error as Error).message });
        await Promise.all(messages.map(onFailure));
      }
    };
    await Promise.all([
      settle(
        logs,
        "request_log_batch_failed",
        () => writeRequestLog(logs.map((m) => m.body.entry)),
        (m) => retryRecord(queue, m),
      ),
      settle(
        deliveries,
        "delivery_batch_failed",
        () => handleJobs(deliveries.map((m) => m.body)),
        (m) => retryRecord(queue, m),
      ),
      settle(jobs, "job_batch_failed", () => handleJobs(jobs.map((m) => m.body)), (m) => {
        // a delivery written claimed is in the inbox, released with its backoff or leased
        // until the sweeper takes it: a retry would carry its claim past both
        if (isClaimedDelivery(m.body)) m.ack();
        else m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
      }),
    ]);
  },

  /** Cron Trigger: the sweeper re-rings recorded work that is not finished. */
  async scheduled(_event: unknown, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    const { sweep } = await boot(bindings);
    ctx.waitUntil(sweep());
  },
};
