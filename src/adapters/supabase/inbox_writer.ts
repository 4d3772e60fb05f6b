import type { SupabaseClient } from "@supabase/supabase-js";

interface Pending {
  dedupeKey: string;
  payload: string;
  resolve: (id: number | null) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit for the webhook inbox: deliveries arriving within `windowMs` (or up to `maxBatch`)
 * are written in one INSERT … ON CONFLICT DO NOTHING, and each caller learns its own row id (or
 * null for a duplicate). The answer to Meta still waits for its row to be durable; one database
 * round trip is shared instead of paid per webhook.
 */
export function inboxWriter(
  service: SupabaseClient,
  options: { windowMs?: number; maxBatch?: number } = {},
) {
  const windowMs = options.windowMs ?? 2;
  const maxBatch = options.maxBatch ?? 200;
  let batch: Pending[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function flush() {
    clearTimeout(timer);
    timer = undefined;
    const items = batch;
    batch = [];
    if (!items.length) return;
    const rows = [...new Map(items.map((i) => [i.dedupeKey, i])).values()].map((i) => ({
      provider: "meta",
      dedupe_key: i.dedupeKey,
      payload_ciphertext: i.payload,
    }));
    const { data, error } = await service.from("webhook_inbox")
      .upsert(rows, { onConflict: "provider,dedupe_key", ignoreDuplicates: true })
      .select("id, dedupe_key");
    if (error) {
      const failure = new Error(`Could not record ${rows.length} webhook(s): ${error.message}`);
      for (const i of items) i.reject(failure);
      return;
    }
    const ids = new Map((data ?? []).map((r) => [r.dedupe_key as string, r.id as number]));
    for (const i of items) {
      // the first caller with a key gets the new row; a repeat in the same batch is a duplicate
      const id = ids.get(i.dedupeKey) ?? null;
      ids.delete(i.dedupeKey);
      i.resolve(id);
    }
  }

  return {
    write(dedupeKey: string, payload: string): Promise<number | null> {
      return new Promise((resolve, reject) => {
        batch.push({ dedupeKey, payload, resolve, reject });
        if (batch.length >= maxBatch) void flush();
        else timer ??= setTimeout(flush, windowMs);
      });
    },
  };
}

export type InboxWriter = ReturnType<typeof inboxWriter>;
