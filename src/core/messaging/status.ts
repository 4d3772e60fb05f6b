/**
 * Where an outbound message stands, given status webhooks that Meta delivers at least once and in
 * no particular order (sent, delivered and read can swap; read may come without delivered; with
 * multi-device recipients delivered and failed can arrive either way round).
 *
 * The rule is a maximum over one total order, so folding any permutation of the same events,
 * with any duplicates, from any starting point gives the same result (commutative, associative,
 * idempotent):
 *
 *   queued < sending < accepted < sent < delivered < read < failed
 *
 * - Statuses only move forward; a late `sent` never pulls a `read` message back.
 * - `failed` is terminal (our contract, DESIGN.md §5): nothing moves a failed message, so a client
 *   never sees a failure taken back. A read receipt after a failure is still kept as a raw status
 *   event in the message's timeline. Retrying a failed message is an explicit new send.
 * - The database applies the same order (private.status_rank in the messaging migration), which
 *   is what stored messages follow; this module is the same rule for code and its property tests.
 * - Values Meta does not document for the Cloud API (`deleted`, `warning`, ...) are not statuses
 *   here: check with isMessageStatus() and keep them as events only.
 */

export const MESSAGE_STATUSES = [
  "queued",
  "sending",
  "accepted",
  "sent",
  "delivered",
  "read",
  "failed",
] as const;

export type MessageStatus = typeof MESSAGE_STATUSES[number];

export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = Object.freeze({
  queued: 1,
  sending: 2,
  accepted: 3,
  sent: 4,
  delivered: 5,
  read: 6,
  failed: 7,
});

export function isMessageStatus(value: string): value is MessageStatus {
  return Object.hasOwn(STATUS_RANK, value);
}

/** The status after `incoming` is seen; `current` is null before anything is known. */
export function nextStatus(current: MessageStatus | null, incoming: MessageStatus): MessageStatus {
  if (current === null) return incoming;
  return STATUS_RANK[incoming] > STATUS_RANK[current] ? incoming : current;
}
