interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit: calls for one key (a client, say) that arrive within `windowMs`, up to
 * `maxBatch`, go to `flush` together; each caller gets the answer at its own position. A caller
 * still waits for its own answer (a write is durable when it resolves); one round trip is shared
 * instead of paid per call. A failed flush fails every caller in it, as the calls would have
 * failed one by one.
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
