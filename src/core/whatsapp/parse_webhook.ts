/**
 * Turns a verified Meta webhook body into flat, normalised events.
 *
 * Every array is a batch: all entries (one per WABA), all changes, all messages and all statuses
 * are walked; peers that read only `[0]` lose events. Only an envelope that is not WhatsApp's is
 * refused. Inside it, an item that does not fit its schema becomes a FieldEvent named
 * `<array>.invalid` carrying the item, so it is stored and visible while its neighbours go on.
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
  type MetaError,
  type MetaInboundMessage,
  statusSchema,
} from "./webhook_payload.ts";

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

const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
/** 10000-01-01T00:00:00Z: beyond it toISOString() switches to six-digit years */
const YEAR_10000 = 253402300800;

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
  const rest = seconds - days * 86400;
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
  const h = Math.floor(rest / 3600);
  const m = Math.floor((rest % 3600) / 60);
  return `${String(year).padStart(4, "0")}-${pad2(month)}-${pad2(day)}T${pad2(h)}:${pad2(m)}:${
    pad2(rest % 60)
  }.000Z`;
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
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  contacts: MetaContact[];
  messageCount: number;
}

function findContact(
  scope: MessagesScope,
  waId: string | null,
  userId: string | null,
  index: number,
): MetaContact | null {
  const { contacts } = scope;
  for (const c of contacts) {
    if ((waId && c.wa_id === waId) || (userId && c.user_id === userId)) return c;
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
function readPayload(message: Record<string, unknown> & { type: string }): Readout | string {
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
  const parsed = INBOUND_PAYLOAD_SCHEMAS[type].safeParse(received);
  if (!parsed.success) return `${type}: ${describe(parsed.error)}`;
  // content is the object as received, not zod's copy; `contacts` is the one array payload
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

function messageEvent(
  scope: MessagesScope,
  raw: unknown,
  index: number,
): InboundMessageEvent | FieldEvent {
  const invalid = (reason: string): FieldEvent => ({
    kind: "field",
    wabaId: scope.wabaId,
    phoneNumberId: scope.phoneNumberId,
    field: "messages.invalid",
    value: { reason, message: raw },
  });
  const parsed = inboundMessageSchema.safeParse(raw);
  if (!parsed.success) return invalid(describe(parsed.error));
  const m = parsed.data;
  const timestamp = isoFromUnix(m.timestamp);
  if (!timestamp) return invalid(`timestamp: ${m.timestamp} is out of range`);
  const readout = readPayload(m);
  if (typeof readout === "string") return invalid(readout);

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
    referral: m.referral ? compact({ ...m.referral }) : null,
    errors: normaliseErrors(m.errors),
    raw,
  };
}

// ---------------------------------------------------------------- statuses

function statusEvent(scope: MessagesScope, raw: unknown): StatusEvent | FieldEvent {
  const invalid = (reason: string): FieldEvent => ({
    kind: "field",
    wabaId: scope.wabaId,
    phoneNumberId: scope.phoneNumberId,
    field: "statuses.invalid",
    value: { reason, status: raw },
  });
  const parsed = statusSchema.safeParse(raw);
  if (!parsed.success) return invalid(describe(parsed.error));
  const s = parsed.data;
  const timestamp = isoFromUnix(s.timestamp);
  if (!timestamp) return invalid(`timestamp: ${s.timestamp} is out of range`);
  const pricing: StatusPricing | null = s.pricing
    ? compact({
      billable: s.pricing.billable ?? undefined,
      pricingModel: s.pricing.pricing_model ?? undefined,
      category: s.pricing.category ?? undefined,
      type: s.pricing.type ?? undefined,
    })
    : null;
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
    pricing,
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

function walkChange(wabaId: string, raw: unknown, events: MetaEvent[]): void {
  const change = changeSchema.safeParse(raw);
  if (!change.success) {
    events.push({
      kind: "field",
      wabaId,
      phoneNumberId: phoneNumberIdOf(isRecord(raw) ? raw.value : null),
      field: "changes.invalid",
      value: { reason: describe(change.error), change: raw },
    });
    return;
  }
  const { field, value } = change.data;
  const asField = (name = field): FieldEvent => ({
    kind: "field",
    wabaId,
    phoneNumberId: phoneNumberIdOf(value),
    field: name,
    value,
  });
  if (field !== "messages") return void events.push(asField());

  const v = messagesValueSchema.safeParse(value);
  if (!v.success) {
    return void events.push({
      ...asField("messages.invalid"),
      value: { reason: describe(v.error), value },
    });
  }
  const { metadata, contacts, messages, statuses } = v.data;
  if (!messages?.length && !statuses?.length) return void events.push(asField());

  const scope: MessagesScope = {
    wabaId,
    phoneNumberId: metadata.phone_number_id,
    displayPhoneNumber: metadata.display_phone_number,
    // an unreadable contact stays as an empty one so positions still line up with messages
    contacts: (contacts ?? []).map((c) => contactSchema.safeParse(c).data ?? {}),
    messageCount: messages?.length ?? 0,
  };
  (messages ?? []).forEach((m, i) => events.push(messageEvent(scope, m, i)));
  for (const s of statuses ?? []) events.push(statusEvent(scope, s));
}

/**
 * Parses a Meta webhook body (already JSON-parsed, after the signature was verified).
 * `{ ok: false }` only when the body is not a WhatsApp Business Account envelope at all.
 */
export function parseMetaWebhook(body: unknown): ParseMetaWebhookResult {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) {
    const object = isRecord(body) ? body.object : undefined;
    return {
      ok: false,
      error: object !== "whatsapp_business_account"
        ? `Expected object "whatsapp_business_account", got ${JSON.stringify(object ?? null)}`
        : `Not a WhatsApp webhook envelope (${describe(envelope.error)})`,
    };
  }
  const events: MetaEvent[] = [];
  for (const raw of envelope.data.entry) {
    const entry = entrySchema.safeParse(raw);
    if (!entry.success) {
      const id = isRecord(raw) && typeof raw.id === "string" ? raw.id : "";
      events.push({
        kind: "field",
        wabaId: id,
        phoneNumberId: null,
        field: "entry.invalid",
        value: { reason: describe(entry.error), entry: raw },
      });
      continue;
    }
    for (const change of entry.data.changes) walkChange(entry.data.id, change, events);
  }
  return { ok: true, events };
}
