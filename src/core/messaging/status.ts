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
 * - `failed` is terminal (our contract: README, Sending messages): nothing moves a failed message, so a client
 *   never sees a failure taken back. A read receipt after a failure is still kept as a raw status
 *   event in the message's timeline. Re-driving a dead-lettered message sends a new message that
 *   names it (`retry_of`); the failed one stays failed.
 * - The database applies the same rule to stored messages: private.status_rank is this order and
 *   the trigger messages_status_moves_forward refuses what mayMove() refuses, for every writer
 *   (supabase/schema/). tests/supabase/status_rule_test.ts checks that the two agree.
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

/**
 * Whether a stored status may be overwritten by `to`: never by a lower rank, so nothing takes a
 * failure back, except a send attempt handing its claim back before Meta has the message
 * (sending → queued, to be tried again).
 */
export function mayMove(from: MessageStatus, to: MessageStatus): boolean {
  return STATUS_RANK[to] >= STATUS_RANK[from] || (from === "sending" && to === "queued");
}
