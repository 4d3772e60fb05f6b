/**
 * Meta (WhatsApp Cloud API) webhook payloads built in code, in the documented shapes, never pasted
 * from traffic. Defaults are realistic; every builder takes overrides. signedRequestInit() signs
 * the exact bytes it returns, serialised the way Meta does (non-ASCII escaped as \uXXXX).
 */
import { META_SIGNATURE_HEADER, signMetaPayload } from "../../src/core/whatsapp/signature.ts";

export const WABA_ID = "102290129340398";
export const PHONE_NUMBER_ID = "106540352242922";
export const DISPLAY_PHONE_NUMBER = "15550783881";
export const CUSTOMER_WA_ID = "16505551234";
export const CUSTOMER_BSUID = "US.13491208655302741918";

let seq = 0;
/** a fresh wamid in Meta's shape (base64 of an opaque id) */
export const newWamid = () =>
  `wamid.HBgL${crypto.randomUUID().replaceAll("-", "").toUpperCase()}${(++seq).toString(36)}=`;

const unix = (at: Date) => String(Math.floor(at.getTime() / 1000));

/** A representative payload for each documented inbound type, keyed by `messages[].type`. */
export const SAMPLE_PAYLOADS: Record<string, unknown> = {
  text: { body: "Does it come in another color?" },
  image: {
    id: "1479537139650973",
    mime_type: "image/jpeg",
    sha256: "ieAmVFWLiSkt9S4C1V6FMtR0ORFx1WvgwnfjcuD2GFQ=",
    caption: "the parcel",
  },
  video: {
    id: "1166846181421424",
    mime_type: "video/mp4",
    sha256: "Hm3LyLb3gLjnSBa39nZRgPn6WQZodT5jK8PMo8GO2b0=",
    caption: "unboxing",
  },
  audio: {
    id: "1003383421387256",
    mime_type: "audio/ogg; codecs=opus",
    sha256: "5ZBl4tOchJzf6J8X7s5KgOvbYQrkdt9RuLhPSYtGDSk=",
    voice: true,
  },
  document: {
    id: "1376223850470848",
    mime_type: "application/pdf",
    sha256: "dYbEJvxlN4mJYFJ08/ReS2tFTnoKVdyOd2GlPrFwB0s=",
    filename: "invoice-0042.pdf",
    caption: "my invoice",
  },
  sticker: {
    id: "1125087932426513",
    mime_type: "image/webp",
    sha256: "X7cERtIOT3v2n1PSs0pfyuH5wpGRQfbDU0+VJ+s4j9A=",
    animated: false,
  },
  location: {
    latitude: 37.44216251868683,
    longitude: -122.16153582049394,
    name: "Philz Coffee",
    address: "101 Forest Ave, Palo Alto, CA 94301",
    url: "https://philzcoffee.com",
  },
  contacts: [{
    name: { formatted_name: "Barbara Johnson", first_name: "Barbara", last_name: "Johnson" },
    phones: [{ phone: "+1 (940) 555-1234", type: "CELL", wa_id: "19405551234" }],
    emails: [{ email: "bjohnson@example.com", type: "WORK" }],
    org: { company: "Lucky Shrub" },
  }],
  interactive: { type: "button_reply", button_reply: { id: "track", title: "Track it" } },
  button: { text: "Confirm", payload: "CONFIRM_1" },
  reaction: {
    message_id: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
    emoji: "👍",
  },
  order: {
    catalog_id: "194836987003835",
    text: "Two of these, please",
    product_items: [
      { product_retailer_id: "di9ozbzfi4", quantity: 2, item_price: 30, currency: "USD" },
      { product_retailer_id: "nqryix03ez", quantity: 1, item_price: 25, currency: "USD" },
    ],
  },
  system: {
    body: "User A changed from 16505551234 to 16505550000",
    new_wa_id: "16505550000",
    type: "user_changed_number",
  },
  unsupported: { type: "poll" },
};

export const INTERACTIVE_SAMPLES = {
  button_reply: SAMPLE_PAYLOADS.interactive,
  list_reply: {
    type: "list_reply",
    list_reply: { id: "size_m", title: "Medium", description: "Chest 96–101 cm" },
  },
  nfm_reply: {
    type: "nfm_reply",
    nfm_reply: {
      name: "flow",
      body: "Sent",
      response_json: JSON.stringify({ flow_token: "ft-1", delivery: "express" }),
    },
  },
} as const;

export interface InboundOptions {
  /** a documented type, or anything else to exercise unknown types */
  type: string;
  /** the type-specific payload; defaults to SAMPLE_PAYLOADS[type] */
  payload?: unknown;
  id?: string;
  at?: Date;
  /** the user's phone number; null leaves it out (a username user, 2026) */
  waId?: string | null;
  /** BSUID; sent as contacts[].user_id (and from_user_id when fromUserId is set) */
  userId?: string | null;
  fromUserId?: boolean;
  name?: string | null;
  context?: Record<string, unknown>;
  referral?: Record<string, unknown>;
  errors?: unknown[];
}

/** One inbound message and the contact Meta sends alongside it. */
export function buildInbound(opts: InboundOptions): {
  contact: Record<string, unknown>;
  message: Record<string, unknown>;
} {
  const waId = opts.waId === undefined ? CUSTOMER_WA_ID : opts.waId;
  const userId = opts.userId ?? null;
  const payload = opts.payload ?? SAMPLE_PAYLOADS[opts.type];
  const contact: Record<string, unknown> = {};
  if (opts.name !== null) contact.profile = { name: opts.name ?? "Sheena Nelson" };
  if (waId) contact.wa_id = waId;
  if (userId) contact.user_id = userId;
  const message: Record<string, unknown> = {};
  if (opts.context) message.context = opts.context;
  if (waId) message.from = waId;
  if (userId && opts.fromUserId) message.from_user_id = userId;
  message.id = opts.id ?? newWamid();
  message.timestamp = unix(opts.at ?? new Date());
  message.type = opts.type;
  if (payload !== undefined) message[opts.type] = payload;
  if (opts.referral) message.referral = opts.referral;
  if (opts.errors) message.errors = opts.errors;
  return { contact, message };
}

export interface StatusOptions {
  id?: string;
  status: string;
  at?: Date;
  /** null leaves it out (sent to a BSUID without a known number) */
  recipientId?: string | null;
  recipientUserId?: string;
  callback?: string;
  /** defaults to PMP pricing on sent and delivered, as Meta sends it; false to omit */
  pricing?: Record<string, unknown> | false;
  conversationId?: string;
  errors?: unknown[];
}

export const PMP_PRICING = {
  billable: true,
  pricing_model: "PMP",
  category: "utility",
  type: "regular",
};

export function buildStatus(opts: StatusOptions): Record<string, unknown> {
  const status: Record<string, unknown> = {
    id: opts.id ?? newWamid(),
    status: opts.status,
    timestamp: unix(opts.at ?? new Date()),
  };
  const recipient = opts.recipientId === undefined ? CUSTOMER_WA_ID : opts.recipientId;
  if (recipient) status.recipient_id = recipient;
  if (opts.recipientUserId) status.recipient_user_id = opts.recipientUserId;
  if (opts.callback) status.biz_opaque_callback_data = opts.callback;
  if (opts.conversationId) {
    status.conversation = { id: opts.conversationId, origin: { type: "utility" } };
  }
  const pricing = opts.pricing ??
    (opts.status === "sent" || opts.status === "delivered" ? PMP_PRICING : false);
  if (pricing) status.pricing = pricing;
  if (opts.errors) status.errors = opts.errors;
  return status;
}

/** A failed-status error in the documented shape */
export function buildError(code = 131026, details = "Message undeliverable") {
  return {
    code,
    title: "Message undeliverable",
    message: "Message undeliverable",
    error_data: { details },
    href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
  };
}

export interface Change {
  field: string;
  value: unknown;
}

/** A `messages` change for one business phone number. */
export function buildMessagesChange(opts: {
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  inbound?: Array<ReturnType<typeof buildInbound>>;
  statuses?: Array<Record<string, unknown>>;
  errors?: unknown[];
}): Change {
  const value: Record<string, unknown> = {
    messaging_product: "whatsapp",
    metadata: {
      display_phone_number: opts.displayPhoneNumber ?? DISPLAY_PHONE_NUMBER,
      phone_number_id: opts.phoneNumberId ?? PHONE_NUMBER_ID,
    },
  };
  if (opts.inbound?.length) {
    value.contacts = opts.inbound.map((i) => i.contact);
    value.messages = opts.inbound.map((i) => i.message);
  }
  if (opts.statuses?.length) value.statuses = opts.statuses;
  if (opts.errors) value.errors = opts.errors;
  return { field: "messages", value };
}

/** A webhook body with one entry (one WABA); combineEnvelopes() merges several. */
export function buildEnvelope(changes: Change[], opts: { wabaId?: string } = {}) {
  return {
    object: "whatsapp_business_account",
    entry: [{ id: opts.wabaId ?? WABA_ID, changes }],
  };
}

export function combineEnvelopes(...envelopes: Array<ReturnType<typeof buildEnvelope>>) {
  return { object: "whatsapp_business_account", entry: envelopes.flatMap((e) => e.entry) };
}

/** JSON as Meta serialises it: non-ASCII characters escaped as \uXXXX. */
export function metaJson(body: unknown): string {
  return JSON.stringify(body).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A POST init with the body Meta would send and its real signature. */
export async function signedRequestInit(
  body: unknown,
  appSecret: string,
): Promise<{ method: "POST"; body: string; headers: Record<string, string> }> {
  const text = typeof body === "string" ? body : metaJson(body);
  return {
    method: "POST",
    body: text,
    headers: {
      "content-type": "application/json",
      [META_SIGNATURE_HEADER]: await signMetaPayload(new TextEncoder().encode(text), appSecret),
    },
  };
}
