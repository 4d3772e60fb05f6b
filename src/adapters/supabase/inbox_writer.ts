import type { Db } from "./database.ts";
import { groupByKey } from "../group_calls.ts";

/**
 * Group commit for the webhook inbox: deliveries arriving within `windowMs` (or up to `maxBatch`)
 * are written in one INSERT … ON CONFLICT DO NOTHING, and each caller learns its own row id (or
 * null for a duplicate). The answer to Meta still waits for its row to be durable.
 * With `claimLeaseSeconds`, each row is written already claimed (attempts 1, leased as
 * claim_inbox_items would), for a caller that processes it right away in this process; if that
 * process dies, the sweeper takes the row once the lease runs out.
 */
export function inboxWriter(
  service: Db,
  options: {
    windowMs?: number;
    maxBatch?: number;
    claimLeaseSeconds?: number;
    now?: () => number;
  } = {},
) {
  const now = options.now ?? Date.now;
  type Item = { dedupeKey: string; payload: string; routeKey: string | null };
  const insert = async (provider: string, items: Item[]): Promise<Array<number | null>> => {
    const lease = options.claimLeaseSeconds
      ? {
        attempts: 1,
        locked_until: new Date(now() + options.claimLeaseSeconds * 1000).toISOString(),
      }
      : {};
    const rows = [...new Map(items.map((i) => [i.dedupeKey, i])).values()].map((i) => ({
      provider,
      dedupe_key: i.dedupeKey,
      payload_ciphertext: i.payload,
      route_key: i.routeKey,
      ...lease,
    }));
    const { data, error } = await service.from("webhook_inbox")
      .upsert(rows, { onConflict: "provider,dedupe_key", ignoreDuplicates: true })
      .select("id, dedupe_key");
    if (error) throw new Error(`Could not record ${rows.length} webhook(s): ${error.message}`);
    const ids = new Map((data ?? []).map((r) => [r.dedupe_key as string, r.id as number]));
    return items.map((i) => {
      // the first caller with a key gets the new row; a repeat in the same batch is a duplicate
      const id = ids.get(i.dedupeKey) ?? null;
      ids.delete(i.dedupeKey);
      return id;
    });
  };
  const write = groupByKey<Item, number | null>(
    insert,
    // 5 ms: under load, fewer and larger inserts cost less CPU per webhook than 2 ms windows,
    // and 10 ms was worse than 5 (paired runs of the ingest benchmark, docs/benchmarks-log.md);
    // the price is that an idle delivery waits up to the window for its answer
    { windowMs: options.windowMs ?? 5, maxBatch: options.maxBatch ?? 200 },
  );
  return {
    /**
     * The new row's id, or null for a duplicate. `routeKey` is what the delivery's work takes
     * turns by with other deliveries' (metaRouteKey() for Meta's).
     */
    write: (
      provider: string,
      dedupeKey: string,
      payload: string,
      routeKey: string | null,
    ): Promise<number | null> => write(provider, { dedupeKey, payload, routeKey }),
    /** many at once, in one INSERT (a queue consumer's batch) */
    writeMany: (
      provider: string,
      items: Array<{ dedupeKey: string; payloadCiphertext: string; routeKey: string | null }>,
    ) =>
      insert(
        provider,
        items.map((i) => ({
          dedupeKey: i.dedupeKey,
          payload: i.payloadCiphertext,
          routeKey: i.routeKey,
        })),
      ),
    /** whether written rows are already claimed for this process (see claimLeaseSeconds) */
    claims: Boolean(options.claimLeaseSeconds),
  };
}

export type InboxWriter = ReturnType<typeof inboxWriter>;
