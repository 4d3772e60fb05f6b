/**
 * A Cloudflare Queue for a Worker run by workerd alone (bench/workerd.ts), in this process.
 *
 * workerd's queue binding sends what the Worker enqueues to a service as HTTP: `POST /message`
 * (one message, its body in the request) and `POST /batch` (JSON, bodies in base64), each body in
 * the format named by its content type (`v8`: structured clone, the default). The broker keeps
 * them, and with a consumer hands them back in batches the way Cloudflare drives a consumer: a
 * batch goes when `batchSize` messages wait or `batchTimeoutMs` after the first of them, at most
 * `concurrency` batches at a time; what the consumer retries comes back after its delay, and an
 * explicit ack() holds even when the batch is retried, as on Cloudflare. Without a consumer it
 * keeps count and drops the bodies (a sink).
 *
 * Outside workerd, so that what it costs lands on this process, not on the Worker measured.
 */

/** A message as the consumer gets it: the body still serialised, as workerd sent it. */
export interface BrokerMessage {
  id: string;
  timestamp: number;
  contentType: string;
  /** base64 of the serialised body */
  body: string;
  attempts: number;
}

/** What workerd's `Fetcher.queue()` reports about a batch (the consumer's acks and retries). */
export interface QueueOutcome {
  outcome: string;
  ackAll?: boolean;
  retryBatch?: { retry: boolean; delaySeconds?: number };
  explicitAcks?: string[];
  retryMessages?: Array<{ msgId: string; delaySeconds?: number }>;
}

export interface QueueConsumer {
  dispatch(messages: BrokerMessage[]): Promise<QueueOutcome>;
  batchSize: number;
  batchTimeoutMs: number;
  concurrency: number;
  /** attempts after which a message is dropped, as max_retries + 1 (default 11) */
  maxAttempts?: number;
}

export interface QueueBroker {
  /** host:port for workerd's external service */
  address: string;
  /** messages received from the producer so far */
  received(): number;
  /** messages waiting or in a batch being consumed */
  pending(): number;
  /** batches dispatched, and messages dropped after their last attempt */
  stats(): { batches: number; dropped: number; failedBatches: number };
  /** stop dispatching (messages still arrive and wait) */
  hold(): void;
  /** dispatch again, the waiting backlog first */
  release(): void;
  /** resolves when nothing waits and no batch is out */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const metrics = (backlog: number) =>
  Response.json({ metadata: { metrics: { backlogCount: backlog, backlogBytes: 0 } } });

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function startQueueBroker(options: { consumer?: QueueConsumer; held?: boolean } = {}) {
  const consumer = options.consumer;
  const waiting: BrokerMessage[] = [];
  let received = 0;
  let inFlight = 0;
  let held = options.held ?? false;
  let batches = 0;
  let failedBatches = 0;
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const delayed = new Set<ReturnType<typeof setTimeout>>();
  let idleWaiters: Array<() => void> = [];
  let seq = 0;

  const settle = () => {
    if (waiting.length || inFlight || delayed.size) return;
    for (const resolve of idleWaiters) resolve();
    idleWaiters = [];
  };

  const add = (message: BrokerMessage, delaySeconds: number) => {
    if (!consumer) return;
    if (delaySeconds > 0) {
      const t = setTimeout(() => {
        delayed.delete(t);
        waiting.push(message);
        pump();
      }, delaySeconds * 1000);
      delayed.add(t);
      return;
    }
    waiting.push(message);
  };

  const dispatch = async (batch: BrokerMessage[]) => {
    inFlight += batch.length;
    batches++;
    let result: QueueOutcome;
    try {
      result = await consumer!.dispatch(batch);
    } catch {
      result = { outcome: "exception" };
    }
    inFlight -= batch.length;
    const retryAll = result.outcome !== "ok" || Boolean(result.retryBatch?.retry);
    if (retryAll) failedBatches++;
    const acked = new Set(result.explicitAcks ?? []);
    const retried = new Map((result.retryMessages ?? []).map((r) => [r.msgId, r.delaySeconds]));
    for (const message of batch) {
      // an explicit retry() wins, then an explicit ack(); the rest follow the batch's outcome
      const again = retried.has(message.id) || (retryAll && !acked.has(message.id));
      if (!again) continue;
      if (message.attempts >= (consumer!.maxAttempts ?? 11)) {
        dropped++;
        continue;
      }
      add(
        { ...message, attempts: message.attempts + 1 },
        retried.get(message.id) ?? result.retryBatch?.delaySeconds ?? 0,
      );
    }
    pump();
    settle();
  };

  function pump() {
    if (!consumer || held) return;
    while (inFlight / Math.max(1, consumer.batchSize) < consumer.concurrency && waiting.length) {
      if (waiting.length < consumer.batchSize) {
        // a batch that is not full waits for the timeout, counted from when it began to wait
        timer ??= setTimeout(() => {
          timer = undefined;
          if (!held && waiting.length) void dispatch(waiting.splice(0, consumer.batchSize));
          pump();
        }, consumer.batchTimeoutMs);
        return;
      }
      clearTimeout(timer);
      timer = undefined;
      void dispatch(waiting.splice(0, consumer.batchSize));
    }
  }

  const newId = () => `msg-${++seq}-${crypto.randomUUID().slice(0, 8)}`;

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (request.method !== "POST") return new Response("Not found", { status: 404 });
      const delay = Number(request.headers.get("x-msg-delay-secs") ?? 0) || 0;
      if (path.endsWith("/message")) {
        const bytes = new Uint8Array(await request.arrayBuffer());
        received++;
        if (consumer) {
          add({
            id: newId(),
            timestamp: Date.now(),
            contentType: request.headers.get("x-msg-fmt") ?? "v8",
            body: base64(bytes),
            attempts: 1,
          }, delay);
          pump();
        }
        return metrics(waiting.length);
      }
      if (path.endsWith("/batch")) {
        const { messages } = await request.json() as {
          messages: Array<{ contentType?: string; delaySecs?: number; body: string }>;
        };
        received += messages.length;
        if (consumer) {
          for (const m of messages) {
            add({
              id: newId(),
              timestamp: Date.now(),
              contentType: m.contentType ?? "v8",
              body: m.body,
              attempts: 1,
            }, m.delaySecs ?? delay);
          }
          pump();
        }
        return metrics(waiting.length);
      }
      return new Response("Not found", { status: 404 });
    },
  );

  const broker: QueueBroker = {
    address: `127.0.0.1:${server.addr.port}`,
    received: () => received,
    pending: () => waiting.length + inFlight + delayed.size,
    stats: () => ({ batches, dropped, failedBatches }),
    hold() {
      held = true;
    },
    release() {
      held = false;
      pump();
    },
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settle();
      }),
    async close() {
      clearTimeout(timer);
      for (const t of delayed) clearTimeout(t);
      await server.shutdown();
    },
  };
  return broker;
}
