import { encryptField, encryptSystem } from "../core/crypto/envelope.ts";
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
import { MAX_KEY_LENGTH, shallowJson, storableTimestamp } from "../core/storable.ts";
import type { UnroutedRow } from "../ports/inbox.ts";
import type { Job } from "../ports/jobs.ts";
import type { NewPluginDelivery } from "../ports/plugins.ts";
import { StoreRefused } from "../ports/store_errors.ts";
import type { ClientEventData } from "../core/webhooks/client_events.ts";
import type { ServiceDeps } from "./deps.ts";
import { acceptDelivery, type Failure, type InboxProcessor } from "./inbox.ts";
import type { PluginFanout } from "./plugins/fanout.ts";
import type { WebhookRouter } from "./routing.ts";
import type { TemplateService } from "./templates.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Step 2 of the event flow: the verified delivery is accepted (encrypted, idempotently: Meta
 * retries repeat the exact body) before we answer: its inbox row written and its job rung, or on
 * Workers the delivery itself queued for the consumer to record (acceptDelivery). A duplicate
 * found here is acknowledged without a second record. The dedupe key is the verified
 * `X-Hub-Signature-256` digest: an HMAC of the exact bytes, so equal bodies share it, and it is
 * already computed (on Deno every Web Crypto call costs ~20 µs or more, see docs/benchmarks.md
 * §5.2).
 */
export async function recordMetaWebhook(
  deps: Pick<ServiceDeps, "keyring" | "doorbell" | "inbox">,
  /** the verified body as text, and as JSON.parse gave it (its envelope checked) */
  delivery: { text: string; body: unknown },
  signatureHex: string,
): Promise<{ duplicate: boolean | null }> {
  return await acceptDelivery(deps, {
    provider: "meta",
    dedupeKey: signatureHex.toLowerCase(),
    route: metaRouteKey(delivery.body),
    body: delivery.body,
    ciphertext: await encryptSystem(deps.keyring, "inbox", delivery.text),
  });
}

/** One delivery's events for one client: what a refused store is split into. */
interface Share {
  itemId: number;
  messages: Record<string, unknown>[];
  statuses: Record<string, unknown>[];
  fields: Record<string, unknown>[];
}

interface ClientBatch {
  /** in delivery order, as the events were read */
  shares: Share[];
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

type Unrouted = UnroutedRow;

type MetaItem = { id: number; events: () => Promise<Iterable<MetaEvent>> };

type MetaInboxDeps = ServiceDeps & {
  router: WebhookRouter;
  /** keeps the client's template store current with Meta's template webhooks */
  templateWebhooks: Pick<TemplateService, "applyWebhookEvents">;
  /**
   * Plugins taking `message.received` get their deliveries recorded with the messages; without
   * it, the event publisher records them after the ingest
   */
  fanout?: PluginFanout;
};

/**
 * Meta's deliveries, many at a time (the inbox consumer's processor for provider `meta`). Every
 * entry, change, message and status is routed by phone number id (or WABA id for account-level
 * fields) and each client's share of the whole batch is stored under that client's RLS in one
 * round trip; events for unknown numbers are recorded for operators. Claim, store and completion
 * are one round trip each per batch, not per delivery. Safe to run twice: messages are unique by
 * wamid and status events by their key. A delivery whose content the database refuses fails alone
 * (see storeIsolating); a failure of the database itself fails the batch.
 */
export function metaInbox(deps: MetaInboxDeps): InboxProcessor {
  return async function processMeta(items, failures) {
    const jobs: Job[] = [];
    const walked: MetaItem[] = items.map((item) => ({
      id: item.id,
      events: async () => {
        const body = await item.body();
        const problem = metaEnvelopeProblem(body);
        if (problem !== null) throw new Error(`Unusable payload: ${problem}`);
        return metaWebhookEvents(body);
      },
    }));
    const { batches, unrouted } = await routeEvents(deps, walked, failures);
    for (const [clientId, batch] of batches) {
      await storeClientBatch(deps, clientId, batch, failures, jobs);
    }
    if (unrouted.length) {
      await storeIsolating(
        unrouted,
        (groups) => deps.inbox.recordUnrouted(groups.flatMap((g) => g.rows)),
        failures,
      );
      deps.logger.warn("webhook_unrouted", {
        count: unrouted.reduce((n, g) => n + g.rows.reduce((m, row) => m + row.events, 0), 0),
      });
    }
    return jobs;
  };
}

/**
 * Reads each delivery's events and routes them: rows for each client, one share per delivery,
 * and the events nobody owns. A delivery whose payload cannot be read fails alone; a failed
 * lookup (routing, data keys) is thrown.
 */
async function routeEvents(
  deps: MetaInboxDeps,
  items: MetaItem[],
  failures: Map<number, Failure>,
) {
  const batches = new Map<string, ClientBatch>();
  const unrouted: Array<{ itemId: number; rows: Unrouted[] }> = [];
  const names = new Map<string, Promise<string>>();
  const shareOf = (clientId: string, itemId: number) => {
    let b = batches.get(clientId);
    if (!b) batches.set(clientId, b = { shares: [], inbound: new Map() });
    let share = b.shares.at(-1);
    if (share?.itemId !== itemId) {
      b.shares.push(share = { itemId, messages: [], statuses: [], fields: [] });
    }
    return { batch: b, share };
  };

  // a batch may hold tens of thousands of events: other requests get their turn between slices
  const nextSlice = timeSlices();
  for (const item of items) {
    // the walk is lazy (parse_webhook.ts): a payload that cannot be read fails its delivery alone,
    // wherever it is found; a failed lookup (routing, data keys) fails the batch
    let events: Iterator<MetaEvent>;
    try {
      events = (await item.events())[Symbol.iterator]();
    } catch (error) {
      failures.set(item.id, { message: (error as Error).message, own: true });
      continue;
    }
    // one unrouted row per delivery, number and kind of event, however many events it held
    const unroutedRows = new Map<string, Unrouted>();
    while (true) {
      await nextSlice();
      let next: IteratorResult<MetaEvent>;
      try {
        next = events.next();
      } catch (error) {
        failures.set(item.id, { message: (error as Error).message, own: true });
        break;
      }
      if (next.done) break;
      const event = next.value;
      const route = event.phoneNumberId ? await deps.router.phone(event.phoneNumberId) : null;
      const clientId = route?.clientId ??
        (event.kind === "field" && event.wabaId ? await deps.router.waba(event.wabaId) : null);
      if (!clientId) {
        const kind = event.kind === "field" ? event.field : event.kind;
        const key = `${event.phoneNumberId}|${event.wabaId}|${kind}`;
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
      const { batch, share } = shareOf(clientId, item.id);
      if (event.kind === "message" && route) {
        const reason = unstorableMessage(event);
        if (reason !== null) share.fields.push(invalidRow(event, reason));
        else {
          const row = await inboundRow(deps, clientId, route.phoneId, event, names);
          share.messages.push(row);
          batch.inbound.set(row.id, event);
        }
      } else if (event.kind === "status") {
        const reason = unstorableStatus(event);
        if (reason !== null) share.fields.push(invalidRow(event, reason));
        else share.statuses.push(statusRow(event));
      } else if (event.kind === "field") share.fields.push(fieldRow(event));
    }
    if (unroutedRows.size) unrouted.push({ itemId: item.id, rows: [...unroutedRows.values()] });
  }
  // a delivery that failed part-way stores nothing: it is retried whole
  if (failures.size) {
    for (const batch of batches.values()) {
      batch.shares = batch.shares.filter((share) => !failures.has(share.itemId));
    }
  }
  return { batches, unrouted: unrouted.filter((group) => !failures.has(group.itemId)) };
}

/**
 * Stores `shares` (each one delivery's) with one call of `store`. When the database refuses what
 * the call carried, each half is stored on its own, down to the delivery at fault, which fails
 * alone, its own failure: every other share is stored on this pass, for about two more calls per
 * refused delivery and halving. Any other failure is thrown: it is no delivery's to carry, and
 * splitting would only repeat it, call after call, against a database that is down.
 */
async function storeIsolating<S extends { itemId: number }>(
  shares: S[],
  store: (shares: S[]) => Promise<void>,
  failures: Map<number, Failure>,
): Promise<void> {
  try {
    await store(shares);
  } catch (error) {
    if (!(error instanceof StoreRefused)) throw error;
    if (shares.length === 1) {
      failures.set(shares[0].itemId, { message: error.message, own: true });
      return;
    }
    const half = Math.ceil(shares.length / 2);
    await storeIsolating(shares.slice(0, half), store, failures);
    await storeIsolating(shares.slice(half), store, failures);
  }
}

/** The `message.received` event of an inbound message, as client webhooks and plugins get it. */
function receivedData(
  messageId: string,
  e: InboundMessageEvent,
): ClientEventData<"message.received"> {
  return {
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
  };
}

async function storeClientBatch(
  deps: MetaInboxDeps,
  clientId: string,
  batch: ClientBatch,
  failures: Map<number, Failure>,
  jobs: Job[],
): Promise<void> {
  // the plugin deliveries of the batch's inbound messages (a STOP for the opt-out keywords, say),
  // stored in the ingest's own transaction: a message and the plugins' reaction to it are kept
  // together or not at all. No plugin taking message.received: a Set lookup, nothing more.
  const fanout = deps.fanout?.wants("message.received") ? deps.fanout : undefined;
  const pluginRows = new Map<string, Array<NewPluginDelivery & { message_id: string }>>();
  // each event's data is built once, for the plugins' filters and then the client's webhooks
  const received = new Map<string, ClientEventData<"message.received">>();
  const dataOf = (id: string) => {
    let data = received.get(id);
    if (!data) received.set(id, data = receivedData(id, batch.inbound.get(id)!));
    return data;
  };
  if (fanout && batch.inbound.size) {
    const ids = [...batch.inbound.keys()];
    const rows = await fanout.rowsFor(
      clientId,
      ids.map((id) => ({ type: "message.received", data: dataOf(id) })),
    );
    for (const { index, ...row } of rows) {
      const message_id = ids[index];
      pluginRows.set(message_id, [...pluginRows.get(message_id) ?? [], { ...row, message_id }]);
    }
  }
  await storeIsolating(batch.shares, async (shares) => {
    const messages = shares.flatMap((s) => s.messages);
    const pluginEvents = pluginRows.size
      ? messages.flatMap((m) => pluginRows.get(m.id as string) ?? [])
      : [];
    const result = await deps.messages.ingest(clientId, {
      messages,
      statuses: shares.flatMap((s) => s.statuses),
      fields: shares.flatMap((s) => s.fields),
      ...(pluginEvents.length ? { plugin_events: pluginEvents } : {}),
    });
    for (const deliveryId of result.plugin_events ?? []) {
      jobs.push({ kind: "plugin_event", clientId, deliveryId });
    }
    // the client hears of each new message and of the new statuses statusNotices() keeps, all
    // recorded with one write, as soon as they are stored: a retry would find them stored and
    // tell nobody
    const published = await deps.events.publish([
      ...result.inserted.map((messageId) => ({
        clientId,
        type: "message.received",
        data: dataOf(messageId),
        pluginsRecorded: fanout !== undefined,
      })),
      // apply_status_events returns each new event in this shape (tests check it against the schema)
      ...statusNotices(result.statuses).map((s) => ({
        clientId,
        type: "message.status",
        data: s as ClientEventData<"message.status">,
      })),
    ]);
    for (const job of published) jobs.push(job);
    // template webhooks also keep the client's template store current
    const fields = shares.flatMap((s) => s.fields);
    if (fields.length) {
      const applied = await deps.templateWebhooks.applyWebhookEvents(clientId, fields);
      for (const job of applied) jobs.push(job);
    }
  }, failures);
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
