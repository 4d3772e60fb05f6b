import type { ClaimedInboxRow, InboxStore } from "../../ports/inbox.ts";
import { StoreRefused } from "../../ports/store_errors.ts";
import type { DatabaseAccess } from "./database.ts";
import { inboxWriter } from "./inbox_writer.ts";
import { refusedForContent } from "./refused.ts";

/**
 * The webhook inbox in PostgREST, with the service role (a delivery names no client until it is
 * walked). Writes are group-committed (inbox_writer.ts); with `claimLeaseSeconds` each row is
 * written already claimed for this process.
 */
export function inboxStore(
  db: DatabaseAccess,
  writer: Parameters<typeof inboxWriter>[1] = {},
): InboxStore {
  const service = db.service;
  const writes = inboxWriter(service, writer);
  return {
    write: writes.write,
    writeMany: writes.writeMany,
    claims: writes.claims,
    async claim(ids, leaseSeconds) {
      const { data, error } = await service.rpc("claim_inbox_items", {
        item_ids: ids,
        lease_seconds: leaseSeconds,
      });
      if (error) throw new Error(`Could not claim inbox items: ${error.message}`);
      // rows claimed before providers were named in the answer are Meta's
      return (data as ClaimedInboxRow[]).map((row) => ({
        ...row,
        provider: row.provider ?? "meta",
      }));
    },
    async payloads(ids) {
      const { data, error } = await service.from("webhook_inbox")
        .select("id, payload_ciphertext").in("id", ids).is("processed_at", null);
      if (error) throw new Error(`Could not read inbox payloads: ${error.message}`);
      return new Map(
        (data as Array<{ id: number; payload_ciphertext: string | null }>)
          .filter((r) => r.payload_ciphertext !== null)
          .map((r) => [r.id, r.payload_ciphertext!]),
      );
    },
    async finish(ids, at) {
      // every event is stored by now: the raw payload goes (the row stays, for dedupe of retries)
      const { error } = await service.from("webhook_inbox").update({
        processed_at: new Date(at).toISOString(),
        locked_until: null,
        last_error: null,
        payload_ciphertext: null,
      }).in("id", ids);
      if (error) throw new Error(`Could not mark inbox items done: ${error.message}`);
    },
    async release(id, failure) {
      await service.from("webhook_inbox").update({
        locked_until: null,
        last_error: failure.error.slice(0, 500),
        next_attempt_at: new Date(failure.nextAttemptAt).toISOString(),
        ...(failure.giveUp ? { processed_at: new Date(failure.at).toISOString() } : {}),
      }).eq("id", id);
    },
    async recordUnrouted(rows) {
      const { error, status } = await service.from("unrouted_webhook_events").insert(rows);
      if (error) {
        const message = `Could not record unrouted events: ${error.message}`;
        throw refusedForContent(error, status) ? new StoreRefused(message) : new Error(message);
      }
    },
    async due(limit) {
      const { data, error } = await service.rpc("due_inbox_items", { max_rows: limit });
      if (error) throw new Error(`Sweep of the inbox failed: ${error.message}`);
      return data as Array<{ id: number; route_key: string | null }>;
    },
  };
}
