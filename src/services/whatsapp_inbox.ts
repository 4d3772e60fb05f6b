import { decryptSystem, encryptField, encryptSystem } from "../core/crypto/envelope.ts";
import { timeSlices } from "../core/time_slices.ts";
import {
  type FieldEvent,
  type InboundMessageEvent,
  metaEnvelopeProblem,
  type MetaEvent,
  metaRouteKey,
  metaWebhookEvents,
  type StatusEvent,
} from "../core/whatsapp/parse_webhook.ts";
import type { InboxWriter } from "../adapters/supabase/inbox_writer.ts";
import { MAX_KEY_LENGTH, shallowJson, storableTimestamp } from "../adapters/supabase/storable.ts";
import type { ClaimedInboxItem, Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";
import type { WebhookRouter } from "./routing.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_INBOX_ATTEMPTS = 10;
/** how long a claim on an inbox item holds before the sweeper may take the item again */
export const INBOX_LEASE_SECONDS = 60;

/**
 * Step 2 of the event flow: the verified delivery is recorded (encrypted, idempotently: Meta
 * retries repeat the exact body) before we answer, then the consumer is rung. A duplicate is
 * acknowledged without a second record. The dedupe key is the verified `X-Hub-Signature-256`
 * digest: an HMAC of the exact bytes, so equal bodies share it, and it is already computed (a
 * hash of our own would be one more crypto call per webhook).
 */
export async function recordMetaWebhook(
  deps: Pick<ServiceDeps, "keyring" | "doorbell"> & { inbox: InboxWriter },
  /** the verified body as text, and as JSON.parse gave it (its envelope checked) */
  delivery: { text: string; body: unknown },
  signatureHex: string,
): Promise<{ id: number | null; duplicate: boolean }> {
  const dedupeKey = signatureHex.toLowerCase();
  const payload = await encryptSystem(deps.keyring, "inbox", delivery.text);
  const route = metaRouteKey(delivery.body);
  const id = await deps.inbox.write(dedupeKey, payload, route);
  if (id !== null) {
    // a row written claimed goes to the job with its body: no claim, no decryption, no parse
    await deps.doorbell.ring([{
      kind: "inbox",
      id,
      route,
      ...(deps.inbox.claims && { claimed: { body: delivery.body } }),
    }]);
  }
  return { id, duplicate: id === null };
}

interface ClientBatch {
  messages: Record<string, unknown>[];
  statuses: Record<string, unknown>[];
  fields: Record<string, unknown>[];
  inbound: Map<string, InboundMessageEvent>;
}

/** contacts.wa_id's check: the digits of a phone number */
const WA_ID = /^[0-9]{6,20}$/;
/** beside a wamid of MAX_KEY_LENGTH in message_status_events' unique key */
const MAX_STATUS_LENGTH = 128;

/**
 * Who sent a message, as a contact can hold it, or null when nothing can name one: a `from` that
 * is not a WhatsApp number is left out when a user id names the sender.
 */
function senderOf(e: InboundMessageEvent): { waId: string | null; userId: string | null } | null {
  const waId = e.waId !== null && WA_ID.test(e.waId) ? e.waId : null;
  const userId = e.userId && e.userId.length <= MAX_KEY_LENGTH ? e.userId : null;
  return waId || userId ? { waId, userId } : null;
}

/** Why a message cannot be stored as one, or null. */
function unstorableMessage(e: InboundMessageEvent): string | null {
  if (e.wamid.length > MAX_KEY_LENGTH) return `id: longer than ${MAX_KEY_LENGTH} characters`;
  return senderOf(e) ? null : "from: neither a WhatsApp number nor a user id";
}

/** Why a status cannot be stored as one, or null. */
function unstorableStatus(e: StatusEvent): string | null {
  if (e.wamid.length > MAX_KEY_LENGTH) return `id: longer than ${MAX_KEY_LENGTH} characters`;
  return e.status.length > MAX_STATUS_LENGTH
    ? `status: longer than ${MAX_STATUS_LENGTH} characters`
    : null;
}

async function inboundRow(
  deps: Pick<ServiceDeps, "dataKeys">,
  clientId: string,
  phoneId: string,
  e: InboundMessageEvent,
  names: Map<string, Promise<string>>,
) {
  const key = await deps.dataKeys.forClient(clientId);
  const id = crypto.randomUUID();
  const sender = senderOf(e)!;
  const media = e.media
    ? { id: e.media.id, mime_type: e.media.mimeType, sha256: e.media.sha256 ?? null }
    : null;
  return {
    id,
    phone_number_id: phoneId,
    wa_id: sender.waId,
    user_id: sender.userId,
    profile_name_ciphertext: e.profileName
      ? await nameCiphertext(names, key, clientId, e.profileName)
      : null,
    wamid: e.wamid,
    type: e.type,
    content_ciphertext: await encryptField(
      key,
      JSON.stringify({ text: e.text, content: e.content }),
      `message:${id}`,
    ),
    media,
    context_wamid: e.contextWamid,
    timestamp: storableTimestamp(e.timestamp),
  };
}

/**
 * One encryption per distinct profile name per batch: a contact writing several messages in one
 * delivery, or across a batch, repeats its name (the same ciphertext may stand in every row).
 */
function nameCiphertext(
  names: Map<string, Promise<string>>,
  key: CryptoKey,
  clientId: string,
  name: string,
): Promise<string> {
  const id = `${clientId}|${name}`;
  let ct = names.get(id);
  if (!ct) names.set(id, ct = encryptField(key, name, `contact_name:${clientId}`));
  return ct;
}

function statusRow(e: StatusEvent) {
  return {
    wamid: e.wamid,
    status: e.status,
    occurred_at: storableTimestamp(e.timestamp),
    pricing: e.pricing,
    errors: e.errors.length ? e.errors : null,
    conversation_id: e.conversationId,
    // our message id travels in biz_opaque_callback_data: it finds the message even when the
    // send's HTTP response (and so the wamid) was lost
    message_id: e.bizOpaqueCallbackData && UUID.test(e.bizOpaqueCallbackData)
      ? e.bizOpaqueCallbackData
      : null,
  };
}

function fieldRow(e: Pick<FieldEvent, "wabaId" | "phoneNumberId" | "field" | "value">) {
  return {
    waba_id: e.wabaId,
    phone_number_id: e.phoneNumberId,
    field: e.field,
    value: shallowJson(e.value),
  };
}

/** A message or status that cannot be stored as one, kept as the parser keeps an invalid item. */
const invalidRow = (e: InboundMessageEvent | StatusEvent, reason: string) =>
  fieldRow({
    wabaId: e.wabaId,
    phoneNumberId: e.phoneNumberId,
    ...(e.kind === "message"
      ? { field: "messages.invalid", value: { reason, message: e.raw } }
      : { field: "statuses.invalid", value: { reason, status: e.raw } }),
  });

type Unrouted = {
  phone_number_id: string | null;
  waba_id: string | null;
  kind: string;
  inbox_id: number;
  /** how many events of the delivery share the row (a batch for a number nobody owns is one) */
  events: number;
};

/**
 * Step 3: processes recorded deliveries, many at a time. Every entry, change, message and status
 * is routed by phone number id (or WABA id for account-level fields) and each client's share of
 * the whole batch is stored under that client's RLS in one round trip; events for unknown numbers
 * are recorded for operators. Claim, store and completion are one round trip each per batch, not
 * per delivery. Safe to run twice: messages are unique by wamid and status events by their key.
 */
export async function processInboxItems(
  deps: ServiceDeps & { router: WebhookRouter },
  ids: number[],
  /** items written already claimed (InboxWriter.claims), with their parsed bodies, by id */
  claimed: ReadonlyMap<number, ClaimedInboxItem> = new Map(),
): Promise<{ processed: number; failed: number; skipped: number }> {
  const service = deps.db.service;
  const items: Array<{ id: number; attempts: number; events: () => Promise<Iterable<MetaEvent>> }> =
    [];
  const toClaim: number[] = [];
  for (const id of ids) {
    const c = claimed.get(id);
    if (c) {
      items.push({
        id,
        attempts: 1,
        events: () => Promise.resolve(metaWebhookEvents(c.body)),
      });
    } else toClaim.push(id);
  }
  if (toClaim.length) {
    const claim = await service.rpc("claim_inbox_items", {
      item_ids: toClaim,
      lease_seconds: INBOX_LEASE_SECONDS,
    });
    if (claim.error) throw new Error(`Could not claim inbox items: ${claim.error.message}`);
    for (
      const row of claim.data as Array<{ id: number; payload_ciphertext: string; attempts: number }>
    ) {
      items.push({
        id: row.id,
        attempts: row.attempts,
        events: async () => {
          const body = JSON.parse(await decryptSystem(deps.keyring, row.payload_ciphertext));
          const problem = metaEnvelopeProblem(body);
          if (problem !== null) throw new Error(`Unusable payload: ${problem}`);
          return metaWebhookEvents(body);
        },
      });
    }
  }
  const skipped = ids.length - items.length;
  if (!items.length) return { processed: 0, failed: 0, skipped };

  const batches = new Map<string, ClientBatch>();
  // one row per delivery, number and kind of event, however many events it held
  const unroutedRows = new Map<string, Unrouted>();
  const failures = new Map<number, string>();
  const names = new Map<string, Promise<string>>();
  const batchFor = (clientId: string) => {
    let b = batches.get(clientId);
    if (!b) {
      batches.set(clientId, b = { messages: [], statuses: [], fields: [], inbound: new Map() });
    }
    return b;
  };

  // a batch may hold tens of thousands of events: other requests get their turn between slices
  const nextSlice = timeSlices();
  for (const item of items) {
    try {
      for (const event of await item.events()) {
        await nextSlice();
        const route = event.phoneNumberId ? await deps.router.phone(event.phoneNumberId) : null;
        const clientId = route?.clientId ??
          (event.kind === "field" && event.wabaId ? await deps.router.waba(event.wabaId) : null);
        if (!clientId) {
          const kind = event.kind === "field" ? event.field : event.kind;
          const key = `${item.id}|${event.phoneNumberId}|${event.wabaId}|${kind}`;
          const row = unroutedRows.get(key);
          if (row) row.events++;
          else {
            unroutedRows.set(key, {
              phone_number_id: event.phoneNumberId ?? null,
              waba_id: event.wabaId ?? null,
              kind,
              inbox_id: item.id,
              events: 1,
            });
          }
          continue;
        }
        const batch = batchFor(clientId);
        if (event.kind === "message" && route) {
          const reason = unstorableMessage(event);
          if (reason !== null) batch.fields.push(invalidRow(event, reason));
          else {
            const row = await inboundRow(deps, clientId, route.phoneId, event, names);
            batch.messages.push(row);
            batch.inbound.set(row.id, event);
          }
        } else if (event.kind === "status") {
          const reason = unstorableStatus(event);
          if (reason !== null) batch.fields.push(invalidRow(event, reason));
          else batch.statuses.push(statusRow(event));
        } else if (event.kind === "field") batch.fields.push(fieldRow(event));
      }
    } catch (error) {
      failures.set(item.id, (error as Error).message);
    }
  }

  const unrouted = [...unroutedRows.values()];
  const jobs: Job[] = [];
  try {
    for (const [clientId, batch] of batches) {
      for (const job of await storeClientBatch(deps, clientId, batch)) jobs.push(job);
    }
    if (unrouted.length) {
      const { error } = await service.from("unrouted_webhook_events").insert(unrouted);
      if (error) throw new Error(`Could not record unrouted events: ${error.message}`);
      deps.logger.warn("webhook_unrouted", {
        count: unrouted.reduce((n, row) => n + row.events, 0),
      });
    }
  } catch (error) {
    // nothing of this batch is marked done: it is all retried, which is safe (idempotent)
    for (const item of items) failures.set(item.id, (error as Error).message);
  }

  const done = items.filter((i) => !failures.has(i.id)).map((i) => i.id);
  if (done.length) {
    // every event is stored by now: the raw payload goes (the row stays, for dedupe of retries)
    const { error } = await service.from("webhook_inbox").update({
      processed_at: new Date(deps.now()).toISOString(),
      locked_until: null,
      last_error: null,
      payload_ciphertext: null,
    }).in("id", done);
    if (error) throw new Error(`Could not mark inbox items done: ${error.message}`);
  }
  for (const item of items.filter((i) => failures.has(i.id))) {
    await releaseFailed(deps, item, failures.get(item.id)!);
  }
  if (jobs.length) await deps.doorbell.ring(jobs);
  return { processed: done.length, failed: items.length - done.length, skipped };
}

async function storeClientBatch(
  deps: ServiceDeps,
  clientId: string,
  batch: ClientBatch,
): Promise<Job[]> {
  const { data, error } = await deps.db.forClient(clientId).rpc("ingest_whatsapp_batch", {
    batch: { messages: batch.messages, statuses: batch.statuses, fields: batch.fields },
  });
  if (error) throw new Error(`Could not store events for a client: ${error.message}`);
  const result = data as { inserted: string[]; statuses: Array<Record<string, unknown>> };
  // the client hears of each new message and of the new statuses statusNotices() keeps
  return await deps.events.publish([
    ...result.inserted.map((messageId) => {
      const e = batch.inbound.get(messageId)!;
      return {
        clientId,
        type: "message.received",
        data: {
          id: messageId,
          wamid: e.wamid,
          phone_number_id: e.phoneNumberId,
          from: e.waId,
          from_user_id: e.userId,
          profile_name: e.profileName,
          type: e.type,
          text: e.text,
          content: e.content,
          context_wamid: e.contextWamid,
          timestamp: e.timestamp,
        },
      };
    }),
    ...statusNotices(result.statuses).map((s) => ({ clientId, type: "message.status", data: s })),
  ]);
}

/** The statuses Meta documents for a message we sent (its reference, §2.3). */
const NOTIFIED_STATUSES: ReadonlySet<unknown> = new Set(["sent", "delivered", "read", "failed"]);

/**
 * Which new status events a client's webhooks hear of: those of a message it sent through us
 * (matched by wamid, or by our id in biz_opaque_callback_data, which every send carries), with a
 * status Meta documents, once per message and status in a batch. Every status event is still
 * stored (the message's timeline); these are left out of `message.status`:
 * - a wamid no message of the client has: sent by another tool on the number or by the WhatsApp
 *   Business app, or not a message at all; the client has no id to look it up by, and a signed
 *   delivery can carry tens of thousands of them, each a delivery per endpoint;
 * - a status value outside sent, delivered, read and failed ("deleted", "warning": other APIs'
 *   vocabularies; the reference says log and ignore);
 * - a repeat of a status the message already has in the batch (Meta may resend one with another
 *   timestamp): a message is at most four events per batch.
 */
export function statusNotices(
  statuses: ReadonlyArray<Record<string, unknown>>,
): Array<Record<string, unknown>> {
  const seen = new Set<string>();
  return statuses.filter((s) => {
    if (typeof s.message_id !== "string" || !NOTIFIED_STATUSES.has(s.status)) return false;
    const key = `${s.message_id}|${s.status}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A delivery that could not be processed waits with exponential backoff; after many tries it is
 * set aside (processed, with its error) for operators instead of blocking the sweeper forever. */
async function releaseFailed(
  deps: ServiceDeps,
  item: { id: number; attempts: number },
  message: string,
) {
  const giveUp = item.attempts >= MAX_INBOX_ATTEMPTS;
  const wait = Math.min(3_600_000, 1000 * 2 ** item.attempts);
  await deps.db.service.from("webhook_inbox").update({
    locked_until: null,
    last_error: message.slice(0, 500),
    next_attempt_at: new Date(deps.now() + wait).toISOString(),
    ...(giveUp ? { processed_at: new Date(deps.now()).toISOString() } : {}),
  }).eq("id", item.id);
  deps.logger.error("inbox_item_failed", {
    inbox_id: item.id,
    attempts: item.attempts,
    give_up: giveUp,
    message,
  });
}
