/**
 * Turns a verified Meta webhook body into flat, normalised events.
 *
 * Every array is a batch: all entries (one per WABA), all changes, all messages and all statuses
 * are walked; peers that read only `[0]` lose events. Only an envelope that is not WhatsApp's is
 * refused. Inside it, an item that does not fit its schema becomes a FieldEvent named
 * `<array>.invalid` carrying the item, so it is stored and visible while its neighbours go on.
 *
 * Each item is judged first by its hand-written check (webhook_checks.ts), which copies nothing;
 * only when that says no does its zod schema run, to confirm and to word the reason. Events are
 * built from the items as received, never from zod's copies, so both judges give the same events
 * (parseMetaWebhookWithZod() is the zod-only walk the tests hold this to).
 *
 * The work is linear in the body's size whatever it holds: invalid items cost zod's wording only
 * for the first MAX_INVALID_ITEMS_KEPT of a delivery; the rest are counted per business number
 * and reported in one `invalid.omitted` event each (a signed 3 MB body can hold a million junk
 * items; zod's walk, an event and a row for each is what a probe's delivery cost). Valid items are
 * never capped: Meta batches up to about a thousand updates per delivery, and each is someone's
 * message or status.
 */
import type * as z from "zod";
import {
  changeSchema,
  contactSchema,
  entrySchema,
  envelopeSchema,
  INBOUND_PAYLOAD_SCHEMAS,
  inboundMessageSchema,
  type InboundMessageType,
  MEDIA_MESSAGE_TYPES,
  messagesValueSchema,
  type MetaContact,
  type MetaEntry,
  type MetaEnvelope,
  type MetaError,
  type MetaInboundMessage,
  type MetaMessagesValue,
  type MetaPricing,
  type MetaStatus,
  referralSchema,
  statusSchema,
} from "./webhook_payload.ts";
import {
  INBOUND_PAYLOAD_CHECKS,
  isChange,
  isContact,
  isEntry,
  isEnvelope,
  isInboundMessage,
  isMessagesValue,
  isStatus,
} from "./webhook_checks.ts";

export type { InboundMessageType } from "./webhook_payload.ts";

export interface MetaEventError {
  code: number;
  title: string;
  message?: string;
  details?: string;
}

export interface InboundMedia {
  id: string;
  mimeType: string | null;
  sha256: string | null;
  filename?: string;
  caption?: string;
  /** audio recorded in the app (push-to-talk) rather than an attached file */
  voice?: boolean;
  /** Graph v23+: a download URL that expires within minutes */
  url?: string;
}

export interface InboundContext {
  wamid: string | null;
  from: string | null;
  forwarded: boolean;
  frequentlyForwarded: boolean;
  referredProduct: { catalogId: string; productRetailerId: string } | null;
}

export interface InboundMessageEvent {
  kind: "message";
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  wamid: string;
  /** the user's phone number; null for username users who withhold it (2026) */
  waId: string | null;
  /** business-scoped user id (BSUID); present on every message from April 2026 */
  userId: string | null;
  parentUserId: string | null;
  profileName: string | null;
  username: string | null;
  /** ISO 8601 */
  timestamp: string;
  /** types we do not know are reported as "unsupported" with the original in `content.type` */
  type: InboundMessageType;
  /** the human-readable part: body, caption, button text, reply title, ... */
  text: string | null;
  media: InboundMedia | null;
  /** the type-specific object as received (`{ contacts: [...] }` for shared contacts) */
  content: Record<string, unknown>;
  contextWamid: string | null;
  context: InboundContext | null;
  /** Click-to-WhatsApp ad that started the chat, as received */
  referral: Record<string, unknown> | null;
  /** e.g. 131051 on unsupported messages */
  errors: MetaEventError[];
  raw: unknown;
}

/** Cloud API documents sent, delivered, read and failed; anything else is passed through. */
export type MetaStatusValue = "sent" | "delivered" | "read" | "failed" | "deleted" | "warning";

export interface StatusPricing {
  billable?: boolean;
  pricingModel?: string;
  category?: string;
  type?: string;
}

export interface StatusEvent {
  kind: "status";
  wabaId: string;
  phoneNumberId: string;
  /** the wamid of the message we sent */
  wamid: string;
  status: MetaStatusValue | (string & Record<never, never>);
  timestamp: string;
  recipientId: string | null;
  recipientUserId: string | null;
  /** echoes what we sent with the message (our message id) */
  bizOpaqueCallbackData: string | null;
  /** only on sent and on one of delivered/read */
  pricing: StatusPricing | null;
  /** omitted from v24.0 except for free entry-point conversations */
  conversationId: string | null;
  errors: MetaEventError[];
  raw: unknown;
}

/**
 * Any change that is not messages or statuses: other webhook fields (template status, account
 * updates, quality, ...), a `messages` change with only `errors`, and items that failed to parse
 * (`messages.invalid`, `statuses.invalid`, `changes.invalid`, `entry.invalid`).
 */
export interface FieldEvent {
  kind: "field";
  /** "" when the entry itself had no usable id */
  wabaId: string;
  phoneNumberId: string | null;
  field: string;
  value: unknown;
}

export type MetaEvent = InboundMessageEvent | StatusEvent | FieldEvent;

export type ParseMetaWebhookResult =
  | { ok: true; events: MetaEvent[] }
  | { ok: false; error: string };

// ---------------------------------------------------------------- helpers

/** "00" to "59" */
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
/** 10000-01-01T00:00:00Z: beyond it toISOString() switches to six-digit years */
const YEAR_10000 = 253402300800;

// the events of one delivery share their day, so its "YYYY-MM-DDT" is worked out once
let lastDay = -1;
let lastDate = "";

/**
 * Unix seconds to the exact string Date#toISOString() gives. Done by hand because toISOString()
 * was half the parser's time on a 12-event batch; this is days-to-civil from H. Hinnant's
 * chrono algorithms, checked against Date in the tests.
 */
function isoFromUnix(ts: string | number): string | null {
  const seconds = Number(ts);
  if (!Number.isSafeInteger(seconds) || seconds < 0) return null;
  if (seconds >= YEAR_10000) {
    const ms = seconds * 1000;
    return ms <= 8.64e15 ? new Date(ms).toISOString() : null;
  }
  const days = Math.floor(seconds / 86400);
  if (days !== lastDay) {
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor(
      (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
    );
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    lastDate = `${String(year).padStart(4, "0")}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T`;
    lastDay = days;
  }
  const rest = seconds - days * 86400;
  const h = Math.floor(rest / 3600);
  const m = Math.floor(rest / 60) % 60;
  return `${lastDate}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[rest % 60]}.000Z`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** BSUIDs look like "US.13491208655302741918" (parent: "US.ENT.…"); wa_ids are digits only. */
const isBsuid = (id: string) => /^[A-Z]{2}\.[A-Za-z0-9.]{1,140}$/.test(id);

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
}

/**
 * Why `value` does not fit `schema`, or null when it does. `ok` is the verdict of the schema's
 * twin in webhook_checks.ts: a yes is final; on a no zod decides, so a twin stricter than its
 * schema costs time, never an event, for the first MAX_INVALID_ITEMS_KEPT refusals of a
 * delivery. Past them the twin's no stands alone (zod's walk and wording of every junk item was
 * most of what a delivery of a million of them cost); the twins' test holds the two to agree.
 */
function problem(walk: Walk, ok: boolean, schema: z.ZodType, value: unknown): string | null {
  if (walk.fast) {
    if (ok) return null;
    if (walk.judged >= MAX_INVALID_ITEMS_KEPT) return NOT_WORDED;
  }
  const result = schema.safeParse(value);
  if (result.success) return null;
  walk.judged++;
  return describe(result.error);
}

function normaliseError(error: MetaError): MetaEventError {
  const out: MetaEventError = {
    code: error.code,
    title: error.title ?? error.message ?? "",
  };
  if (error.message) out.message = error.message;
  if (error.error_data?.details) out.details = error.error_data.details;
  return out;
}

const normaliseErrors = (errors: MetaError[] | null | undefined) =>
  errors ? errors.map(normaliseError) : [];

function compact<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] == null) delete value[key];
  return value;
}

// ---------------------------------------------------------------- messages

interface MessagesScope {
  walk: Walk;
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  contacts: MetaContact[];
  /** each wa_id's and user_id's first contact (by position): a lookup per message, not a scan */
  byWaId: Map<string, number>;
  byUserId: Map<string, number>;
  messageCount: number;
}

function findContact(
  scope: MessagesScope,
  waId: string | null,
  userId: string | null,
  index: number,
): MetaContact | null {
  const { contacts } = scope;
  // the first contact that matches either id, as a scan in order would find
  const byWa = waId ? scope.byWaId.get(waId) : undefined;
  const byUser = userId ? scope.byUserId.get(userId) : undefined;
  if (byWa !== undefined || byUser !== undefined) {
    return contacts[Math.min(byWa ?? Infinity, byUser ?? Infinity)];
  }
  // Nothing to match on (no phone number, no from_user_id): Meta lists one contact per message,
  // so pair them by position when the counts agree, and take the only one when there is one.
  if (contacts.length === scope.messageCount) return contacts[index] ?? null;
  return contacts.length === 1 ? contacts[0] : null;
}

const MEDIA_TYPES: ReadonlySet<string> = new Set(MEDIA_MESSAGE_TYPES);

const str = (value: unknown): string | null => typeof value === "string" ? value : null;
const obj = (value: unknown): Record<string, unknown> => isRecord(value) ? value : {};

function mediaOf(type: InboundMessageType, p: Record<string, unknown>): InboundMedia {
  const media: InboundMedia = {
    id: p.id as string,
    mimeType: str(p.mime_type),
    sha256: str(p.sha256),
  };
  if (str(p.filename) !== null) media.filename = p.filename as string;
  if (str(p.caption) !== null) media.caption = p.caption as string;
  if (type === "audio") media.voice = p.voice === true;
  if (str(p.url) !== null) media.url = p.url as string;
  return media;
}

/** The part of a message a person would read, already validated by the type's schema. */
function readableText(type: InboundMessageType, p: Record<string, unknown>): string | null {
  switch (type) {
    case "text":
    case "system":
      return str(p.body);
    case "image":
    case "video":
    case "document":
      return str(p.caption);
    case "button":
    case "order":
      return str(p.text);
    case "reaction":
      return str(p.emoji) || null; // "" means the reaction was removed
    case "location":
      return [str(p.name), str(p.address)].filter(Boolean).join(", ") || null;
    case "contacts":
      return (p.contacts as unknown[])
        .map((c) => str(obj(obj(c).name).formatted_name))
        .filter(Boolean)
        .join(", ") || null;
    case "interactive":
      return str(obj(p.button_reply).title) ?? str(obj(p.list_reply).title) ??
        str(obj(p.nfm_reply).body);
    default:
      return null;
  }
}

type Readout = Pick<InboundMessageEvent, "type" | "text" | "media" | "content">;

/** Reads one message's type-specific payload; a string is the reason it is unusable. */
function readPayload(walk: Walk, message: MetaInboundMessage): Readout | string {
  const declared = message.type;
  if (declared === "unsupported" || !Object.hasOwn(INBOUND_PAYLOAD_SCHEMAS, declared)) {
    // types we do not know (Meta adds them; legacy "unknown") must not fail the batch
    const content = declared === "unsupported" ? { ...obj(message.unsupported) } : {
      type: declared,
      ...(message[declared] !== undefined ? { payload: message[declared] } : {}),
    };
    return { type: "unsupported", text: null, media: null, content };
  }
  const type = declared as InboundMessageType;
  const received = message[type];
  const reason = problem(
    walk,
    walk.fast && INBOUND_PAYLOAD_CHECKS[type](received),
    INBOUND_PAYLOAD_SCHEMAS[type],
    received,
  );
  if (reason !== null) return `${type}: ${reason}`;
  // `contacts` is the one array payload
  const content = isRecord(received)
    ? received
    : received === undefined
    ? {}
    : { [type]: received };
  return {
    type,
    text: readableText(type, content),
    media: MEDIA_TYPES.has(type) ? mediaOf(type, content) : null,
    content,
  };
}

function contextOf(message: MetaInboundMessage): InboundContext | null {
  const c = message.context;
  if (!c) return null;
  return {
    wamid: c.id ?? null,
    from: c.from ?? null,
    forwarded: c.forwarded === true,
    frequentlyForwarded: c.frequently_forwarded === true,
    referredProduct: c.referred_product
      ? {
        catalogId: c.referred_product.catalog_id,
        productRetailerId: c.referred_product.product_retailer_id,
      }
      : null,
  };
}

/**
 * `messages.invalid` carrying `{ reason, message }`, or `statuses.invalid` with `status`; null
 * once the delivery has kept its share of invalid items (this one is counted instead).
 */
const invalidItem = (
  scope: MessagesScope,
  item: "message" | "status",
  raw: unknown,
  reason: string,
): FieldEvent | null =>
  invalidEvent(
    scope.walk,
    scope.wabaId,
    scope.phoneNumberId,
    item === "message" ? "messages.invalid" : "statuses.invalid",
    item === "message" ? { reason, message: raw } : { reason, status: raw },
  );

function messageEvent(
  scope: MessagesScope,
  raw: unknown,
  index: number,
): InboundMessageEvent | FieldEvent | null {
  const { walk } = scope;
  const reason = problem(walk, walk.fast && isInboundMessage(raw), inboundMessageSchema, raw);
  if (reason !== null) return invalidItem(scope, "message", raw, reason);
  const m = raw as MetaInboundMessage;
  const timestamp = isoFromUnix(m.timestamp);
  if (!timestamp) {
    return invalidItem(scope, "message", raw, `timestamp: ${m.timestamp} is out of range`);
  }
  const readout = readPayload(walk, m);
  if (typeof readout === "string") return invalidItem(scope, "message", raw, readout);

  // `from` has been the phone number; guard against it carrying the BSUID for username users
  const fromIsBsuid = m.from != null && isBsuid(m.from);
  const fromPhone = m.from != null && !fromIsBsuid ? m.from : null;
  const fromUser = m.from_user_id ?? (fromIsBsuid ? m.from : null) ?? null;
  const contact = findContact(scope, fromPhone, fromUser, index);
  return {
    kind: "message",
    wabaId: scope.wabaId,
    phoneNumberId: scope.phoneNumberId,
    displayPhoneNumber: scope.displayPhoneNumber,
    wamid: m.id,
    waId: fromPhone ?? contact?.wa_id ?? null,
    userId: fromUser ?? contact?.user_id ?? null,
    parentUserId: m.from_parent_user_id ?? contact?.parent_user_id ?? null,
    profileName: contact?.profile?.name ?? null,
    username: contact?.profile?.username ?? null,
    timestamp,
    type: readout.type,
    text: readout.text,
    media: readout.media,
    content: readout.content,
    contextWamid: m.context?.id ?? null,
    context: contextOf(m),
    // zod's copy (declared fields first, no `__proto__` key), as stored before the fast path;
    // a referral comes only with the first message after an ad click
    referral: m.referral ? compact({ ...referralSchema.parse(m.referral) }) : null,
    errors: normaliseErrors(m.errors),
    raw,
  };
}

// ---------------------------------------------------------------- statuses

function pricingOf(p: MetaPricing): StatusPricing {
  const pricing: StatusPricing = {};
  if (p.billable != null) pricing.billable = p.billable;
  if (p.pricing_model != null) pricing.pricingModel = p.pricing_model;
  if (p.category != null) pricing.category = p.category;
  if (p.type != null) pricing.type = p.type;
  return pricing;
}

function statusEvent(scope: MessagesScope, raw: unknown): StatusEvent | FieldEvent | null {
  const { walk } = scope;
  const reason = problem(walk, walk.fast && isStatus(raw), statusSchema, raw);
  if (reason !== null) return invalidItem(scope, "status", raw, reason);
  const s = raw as MetaStatus;
  const timestamp = isoFromUnix(s.timestamp);
  if (!timestamp) {
    return invalidItem(scope, "status", raw, `timestamp: ${s.timestamp} is out of range`);
  }
  return {
    kind: "status",
    wabaId: scope.wabaId,
    phoneNumberId: scope.phoneNumberId,
    wamid: s.id,
    status: s.status,
    timestamp,
    recipientId: s.recipient_id ?? null,
    recipientUserId: s.recipient_user_id ?? null,
    bizOpaqueCallbackData: s.biz_opaque_callback_data ?? null,
    pricing: s.pricing ? pricingOf(s.pricing) : null,
    conversationId: s.conversation?.id ?? null,
    errors: normaliseErrors(s.errors),
    raw,
  };
}

// ---------------------------------------------------------------- walk

function phoneNumberIdOf(value: unknown): string | null {
  if (!isRecord(value) || !isRecord(value.metadata)) return null;
  const id = value.metadata.phone_number_id;
  return typeof id === "string" ? id : null;
}

/** A change as a FieldEvent; `value` is the change's own value unless given. */
const fieldEvent = (
  wabaId: string,
  field: string,
  changeValue: unknown,
  value: unknown = changeValue,
): FieldEvent => ({
  kind: "field",
  wabaId,
  phoneNumberId: phoneNumberIdOf(changeValue),
  field,
  value,
});

/**
 * One walk over a delivery: whether the checks may answer before zod, and its invalid items so
 * far (how many zod has worded, how many are kept, and the rest counted per business number).
 */
interface Walk {
  fast: boolean;
  judged: number;
  kept: number;
  omitted: Map<string, FieldEvent>;
}

/**
 * Invalid items of one delivery kept as events, each with zod's reason; the rest are counted in
 * an `invalid.omitted` event per business number. Meta's own items are valid: this bounds what a
 * body of junk costs (rows, zod's walks), not what a real batch carries.
 */
export const MAX_INVALID_ITEMS_KEPT = 100;
/** business numbers an `invalid.omitted` count is kept for; beyond, one count for the rest */
const MAX_OMITTED_SCOPES = 100;
export const OMITTED_FIELD = "invalid.omitted";
const NOT_WORDED = "does not fit the schema";

/** An invalid item's event while the delivery keeps them; null once it only counts them. */
function invalidEvent(
  walk: Walk,
  wabaId: string,
  phoneNumberId: string | null,
  field: string,
  value: unknown,
): FieldEvent | null {
  if (walk.kept < MAX_INVALID_ITEMS_KEPT) {
    walk.kept++;
    return { kind: "field", wabaId, phoneNumberId, field, value };
  }
  let key = `${wabaId}\u0000${phoneNumberId ?? ""}`;
  let summary = walk.omitted.get(key);
  if (!summary && walk.omitted.size >= MAX_OMITTED_SCOPES) {
    // no number to route by: operators see it among unrouted events
    key = "";
    wabaId = "";
    phoneNumberId = null;
    summary = walk.omitted.get(key);
  }
  if (!summary) {
    summary = {
      kind: "field",
      wabaId,
      phoneNumberId,
      field: OMITTED_FIELD,
      value: {
        reason: `Over ${MAX_INVALID_ITEMS_KEPT} invalid items in one delivery: the rest are ` +
          "counted, not kept",
        omitted: {} as Record<string, number>,
      },
    };
    walk.omitted.set(key, summary);
  }
  const counts = (summary.value as { omitted: Record<string, number> }).omitted;
  counts[field] = (counts[field] ?? 0) + 1;
  return null;
}

function* walkChange(walk: Walk, wabaId: string, raw: unknown): Generator<MetaEvent> {
  const { fast } = walk;
  const changeProblem = problem(walk, fast && isChange(raw), changeSchema, raw);
  if (changeProblem !== null) {
    const value = isRecord(raw) ? raw.value : null;
    const invalid = { reason: changeProblem, change: raw };
    const event = invalidEvent(walk, wabaId, phoneNumberIdOf(value), "changes.invalid", invalid);
    if (event) yield event;
    return;
  }
  const { field, value } = raw as { field: string; value: unknown };
  if (field !== "messages") {
    yield fieldEvent(wabaId, field, value);
    return;
  }

  const valueProblem = problem(walk, fast && isMessagesValue(value), messagesValueSchema, value);
  if (valueProblem !== null) {
    const invalid = { reason: valueProblem, value };
    const event = invalidEvent(walk, wabaId, phoneNumberIdOf(value), "messages.invalid", invalid);
    if (event) yield event;
    return;
  }
  const { metadata, contacts, messages, statuses } = value as MetaMessagesValue;
  if (!messages?.length && !statuses?.length) {
    yield fieldEvent(wabaId, field, value);
    return;
  }

  // an unreadable contact stays as an empty one so positions still line up with messages
  const readable: MetaContact[] = [];
  const byWaId = new Map<string, number>();
  const byUserId = new Map<string, number>();
  for (const c of contacts ?? []) {
    const ok = problem(walk, fast && isContact(c), contactSchema, c) === null;
    const contact = ok ? c as MetaContact : {};
    if (contact.wa_id && !byWaId.has(contact.wa_id)) byWaId.set(contact.wa_id, readable.length);
    if (contact.user_id && !byUserId.has(contact.user_id)) {
      byUserId.set(contact.user_id, readable.length);
    }
    readable.push(contact);
  }
  const scope: MessagesScope = {
    walk,
    wabaId,
    phoneNumberId: metadata.phone_number_id,
    displayPhoneNumber: metadata.display_phone_number,
    contacts: readable,
    byWaId,
    byUserId,
    messageCount: messages?.length ?? 0,
  };
  // indexed and for-of, never forEach: a hole in a sparse array is an item too (zod sees it)
  if (messages) {
    for (let i = 0; i < messages.length; i++) {
      const event = messageEvent(scope, messages[i], i);
      if (event) yield event;
    }
  }
  for (const s of statuses ?? []) {
    const event = statusEvent(scope, s);
    if (event) yield event;
  }
}

/** Why `body` is not a WhatsApp Business Account envelope, or null when it is one. */
function envelopeProblemOf(walk: Walk, body: unknown): string | null {
  const envelopeProblem = problem(walk, walk.fast && isEnvelope(body), envelopeSchema, body);
  if (envelopeProblem === null) return null;
  const object = isRecord(body) ? body.object : undefined;
  return object !== "whatsapp_business_account"
    ? `Expected object "whatsapp_business_account", got ${JSON.stringify(object ?? null)}`
    : `Not a WhatsApp webhook envelope (${envelopeProblem})`;
}

function* walkEnvelope(walk: Walk, body: MetaEnvelope): Generator<MetaEvent> {
  for (const raw of body.entry) {
    const entryProblem = problem(walk, walk.fast && isEntry(raw), entrySchema, raw);
    if (entryProblem !== null) {
      const id = isRecord(raw) && typeof raw.id === "string" ? raw.id : "";
      const event = invalidEvent(walk, id, null, "entry.invalid", {
        reason: entryProblem,
        entry: raw,
      });
      if (event) yield event;
      continue;
    }
    const entry = raw as MetaEntry;
    // String(), as entrySchema's transform: a numeric WABA id is the same account
    const wabaId = String(entry.id);
    for (const change of entry.changes) yield* walkChange(walk, wabaId, change);
  }
  yield* walk.omitted.values();
}

const newWalk = (fast: boolean): Walk => ({ fast, judged: 0, kept: 0, omitted: new Map() });

function parse(fast: boolean, body: unknown): ParseMetaWebhookResult {
  const walk = newWalk(fast);
  const error = envelopeProblemOf(walk, body);
  if (error !== null) return { ok: false, error };
  return { ok: true, events: [...walkEnvelope(walk, body as MetaEnvelope)] };
}

/**
 * Why a verified, JSON-parsed body is not a WhatsApp Business Account envelope, or null when it
 * is one. Constant work whatever the body holds: what the webhook route checks before it answers.
 */
export function metaEnvelopeProblem(body: unknown): string | null {
  return envelopeProblemOf(newWalk(true), body);
}

/**
 * What a delivery's work takes turns by before it is walked (a delivery names no client until
 * then): the phone number id of its first change, else its first entry's WABA id, whichever is
 * there and fits in 64 characters first; else null. Constant work, for an envelope
 * metaEnvelopeProblem() accepted.
 */
export function metaRouteKey(body: unknown): string | null {
  const entry = (body as MetaEnvelope).entry[0];
  if (!isRecord(entry)) return null;
  const change = Array.isArray(entry.changes) ? entry.changes[0] : undefined;
  const usable = (key: string | null) => key !== null && key.length > 0 && key.length <= 64;
  const phone = phoneNumberIdOf(isRecord(change) ? change.value : undefined);
  if (usable(phone)) return phone;
  const waba = typeof entry.id === "string" || typeof entry.id === "number"
    ? String(entry.id)
    : null;
  return usable(waba) ? waba : null;
}

/**
 * The events of an envelope metaEnvelopeProblem() accepted, one at a time, so a caller can give
 * the event loop a turn between them (what parseMetaWebhook() collects into an array).
 */
export function metaWebhookEvents(body: unknown): Iterable<MetaEvent> {
  return walkEnvelope(newWalk(true), body as MetaEnvelope);
}

/**
 * Parses a Meta webhook body (already JSON-parsed, after the signature was verified).
 * `{ ok: false }` only when the body is not a WhatsApp Business Account envelope at all.
 */
export function parseMetaWebhook(body: unknown): ParseMetaWebhookResult {
  return parse(true, body);
}

/**
 * parseMetaWebhook() with zod alone judging every item, as it was before the hand-written checks:
 * the reference their tests compare against, not for production use.
 */
export function parseMetaWebhookWithZod(body: unknown): ParseMetaWebhookResult {
  return parse(false, body);
}
