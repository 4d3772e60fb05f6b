import type { DatabaseAccess } from "./database.ts";

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: Error) => void;
}

/**
 * Calls for one key (a client) that arrive within `windowMs`, up to `maxBatch`, go to `flush`
 * together; each caller gets the answer at its own position. A failed flush fails every caller
 * in it, as the calls would have failed one by one.
 */
export function groupByKey<I, O>(
  flush: (key: string, items: I[]) => Promise<O[]>,
  options: { windowMs?: number; maxBatch?: number } = {},
): (key: string, item: I) => Promise<O> {
  const windowMs = options.windowMs ?? 2;
  const maxBatch = options.maxBatch ?? 100;
  const open = new Map<
    string,
    { waiting: Waiting<I, O>[]; timer?: ReturnType<typeof setTimeout> }
  >();

  async function send(key: string) {
    const batch = open.get(key);
    if (!batch) return;
    open.delete(key);
    clearTimeout(batch.timer);
    try {
      const answers = await flush(key, batch.waiting.map((w) => w.item));
      if (answers.length !== batch.waiting.length) {
        throw new Error(`Expected ${batch.waiting.length} answers, got ${answers.length}`);
      }
      batch.waiting.forEach((w, i) => w.resolve(answers[i]));
    } catch (error) {
      for (const w of batch.waiting) w.reject(error as Error);
    }
  }

  return (key, item) =>
    new Promise<O>((resolve, reject) => {
      let batch = open.get(key);
      if (!batch) open.set(key, batch = { waiting: [] });
      batch.waiting.push({ item, resolve, reject });
      if (batch.waiting.length >= maxBatch) void send(key);
      else batch.timer ??= setTimeout(() => send(key), windowMs);
    });
}

export interface ClaimAnswer {
  outcome: string;
  retry_at?: string;
  message?: unknown;
  phone?: { phone_number_id: string; waba_account_id: string; messages_per_second: number };
}

/**
 * The send pipeline's three per-message database calls (enqueue, claim, record the result),
 * grouped per client: concurrent sends of one client share one round trip for each.
 */
export function sendCalls(
  db: DatabaseAccess,
  options: {
    leaseSeconds: number;
    recipientGapMs: number;
    windowMs?: number;
    maxBatch?: number;
  },
) {
  const claim = groupByKey<string, ClaimAnswer>(async (clientId, ids) => {
    const { data, error } = await db.forClient(clientId).rpc("claim_outbound_messages", {
      message_ids: ids,
      lease_seconds: options.leaseSeconds,
      recipient_gap_ms: options.recipientGapMs,
    });
    if (error) throw new Error(`Could not claim the message: ${error.message}`);
    return data as ClaimAnswer[];
  }, options);
  const record = groupByKey<{ message_id: string; result: Record<string, unknown> }, unknown>(
    async (clientId, results) => {
      const { data, error } = await db.forClient(clientId).rpc("record_send_results", { results });
      if (error) throw new Error(`Could not record the send result: ${error.message}`);
      return data as unknown[];
    },
    options,
  );
  const enqueue = groupByKey<Record<string, unknown>, Record<string, unknown>>(
    async (clientId, requests) => {
      const { data, error } = await db.forClient(clientId).rpc("enqueue_messages", { requests });
      if (error) throw new Error(`Could not queue the message: ${error.message}`);
      return data as Record<string, unknown>[];
    },
    options,
  );
  return {
    /** enqueue_message's answer; `{outcome: "error", error}` when this request broke a rule */
    enqueue: (clientId: string, request: Record<string, unknown>) => enqueue(clientId, request),
    claim: (clientId: string, messageId: string) => claim(clientId, messageId),
    record: (clientId: string, messageId: string, result: Record<string, unknown>) =>
      record(clientId, { message_id: messageId, result }),
  };
}

export type SendCalls = ReturnType<typeof sendCalls>;
