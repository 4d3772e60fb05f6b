import type { ClaimAnswer, EnqueueAnswer, OutboundRequest } from "../../ports/messages.ts";
import { groupByKey } from "../group_calls.ts";
import type { DatabaseAccess } from "./database.ts";

export type { ClaimAnswer };

/**
 * The send pipeline's three per-message database calls (enqueue, claim, record the result),
 * grouped per client: concurrent sends of one client share one round trip for each.
 */
export function sendCalls(
  db: DatabaseAccess,
  options: {
    leaseSeconds: number;
    recipientGapMs: number;
    /**
     * How long a message whose attempt died with its lease (no outcome recorded) waits, from the
     * end of that lease, before it is sent again: that attempt may have reached Meta
     */
    ambiguousWaitMs: number;
    windowMs?: number;
    maxBatch?: number;
    /**
     * The enqueue also claims each new message for sending (the lease and recipient gap above),
     * for a caller that sends it right away in this process: one round trip and one row write
     * fewer per message. Its answer then carries `claim` (see enqueue_message).
     */
    claimOnEnqueue?: boolean;
  },
) {
  const claimWith = options.claimOnEnqueue
    ? { lease_seconds: options.leaseSeconds, recipient_gap_ms: options.recipientGapMs }
    : null;
  const claim = groupByKey<string, ClaimAnswer>(async (clientId, ids) => {
    const { data, error } = await db.forClient(clientId).rpc("claim_outbound_messages", {
      message_ids: ids,
      lease_seconds: options.leaseSeconds,
      recipient_gap_ms: options.recipientGapMs,
      ambiguous_wait_ms: options.ambiguousWaitMs,
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
  const enqueue = groupByKey<OutboundRequest, EnqueueAnswer>(
    async (clientId, requests) => {
      const { data, error } = await db.forClient(clientId).rpc("enqueue_messages", {
        requests,
        claim: claimWith,
      });
      if (error) throw new Error(`Could not queue the message: ${error.message}`);
      return data as EnqueueAnswer[];
    },
    options,
  );
  return {
    /** enqueue_message's answer; `{outcome: "error", error}` when this request broke a rule */
    enqueue,
    /** claim_outbound_message's answer for (client id, message id) */
    claim,
    record: (clientId: string, messageId: string, result: Record<string, unknown>) =>
      record(clientId, { message_id: messageId, result }),
  };
}

export type SendCalls = ReturnType<typeof sendCalls>;
