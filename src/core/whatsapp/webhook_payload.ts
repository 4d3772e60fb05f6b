/**
 * Zod schemas for what we read from Meta's webhook POSTs (Cloud API, `object:
 * "whatsapp_business_account"`). They parse only the fields we use and let everything else
 * through (`z.looseObject`): Meta adds fields and enum values without notice, and parsers with
 * closed enums broke when new pricing categories appeared. Arrays that carry a batch (entries,
 * changes, messages, statuses, contacts) are `unknown[]` here and parsed item by item, so one odd
 * item never costs the rest of the batch.
 *
 * Optional fields are `nullish`: absent is the documented form, but a null costs us nothing.
 *
 * Each schema has a hand-written twin in webhook_checks.ts that the hot path asks first; change
 * both together (the twins' test fails when they disagree).
 */
import * as z from "zod";

export const WHATSAPP_OBJECT = "whatsapp_business_account";

const text = z.string();
const maybe = <T extends z.ZodType>(schema: T) => schema.nullish();
/** unix seconds as a digit string, the form Meta sends (shared with webhook_checks.ts) */
export const UNIX_SECONDS_DIGITS = /^\d{1,12}$/;
/** unix seconds; Meta sends a digit string, and a number is the same instant */
export const unixSecondsSchema = z.union([
  z.string().regex(UNIX_SECONDS_DIGITS),
  z.int().nonnegative(),
]);

// ---------------------------------------------------------------- envelope

export const envelopeSchema = z.looseObject({
  object: z.literal(WHATSAPP_OBJECT),
  entry: z.array(z.unknown()),
});

export const entrySchema = z.looseObject({
  /** the WABA id */
  id: z.union([text, z.number()]).transform(String),
  changes: z.array(z.unknown()),
});

export const changeSchema = z.looseObject({
  field: text,
  value: z.unknown(),
});

export const metadataSchema = z.looseObject({
  display_phone_number: text,
  phone_number_id: text,
});

/** `value` of a `messages` change: messages[] from users, statuses[] of ours, or errors[] */
export const messagesValueSchema = z.looseObject({
  metadata: metadataSchema,
  contacts: maybe(z.array(z.unknown())),
  messages: maybe(z.array(z.unknown())),
  statuses: maybe(z.array(z.unknown())),
  errors: maybe(z.array(z.unknown())),
});

/**
 * `wa_id` is the phone number and may be withheld for users with a username (2026); `user_id`
 * (BSUID) is then the only key.
 */
export const contactSchema = z.looseObject({
  wa_id: maybe(text),
  user_id: maybe(text),
  parent_user_id: maybe(text),
  profile: maybe(z.looseObject({ name: maybe(text), username: maybe(text) })),
});

// ---------------------------------------------------------------- shared pieces

/** Base logic on `code` and `error_data.details`: Meta says titles are going away. */
export const metaErrorSchema = z.looseObject({
  code: z.number(),
  title: maybe(text),
  message: maybe(text),
  error_data: maybe(z.looseObject({ details: maybe(text) })),
  href: maybe(text),
});

export const contextSchema = z.looseObject({
  /** the wamid replied to, or of the template whose quick-reply button was tapped */
  id: maybe(text),
  from: maybe(text),
  forwarded: maybe(z.boolean()),
  frequently_forwarded: maybe(z.boolean()),
  referred_product: maybe(z.looseObject({ catalog_id: text, product_retailer_id: text })),
});

/** Click-to-WhatsApp ad (or post) that opened the chat */
export const referralSchema = z.looseObject({
  source_url: maybe(text),
  source_id: maybe(text),
  source_type: maybe(text),
  headline: maybe(text),
  body: maybe(text),
  media_type: maybe(text),
  ctwa_clid: maybe(text),
});

// ---------------------------------------------------------------- inbound messages

const mediaFields = {
  id: text,
  mime_type: maybe(text),
  sha256: maybe(text),
  /** Graph v23+ also sends a short-lived download URL */
  url: maybe(text),
};

export const imageSchema = z.looseObject({ ...mediaFields, caption: maybe(text) });
export const videoSchema = z.looseObject({ ...mediaFields, caption: maybe(text) });
export const stickerSchema = z.looseObject({ ...mediaFields, animated: maybe(z.boolean()) });
export const audioSchema = z.looseObject({ ...mediaFields, voice: maybe(z.boolean()) });
export const documentSchema = z.looseObject({
  ...mediaFields,
  filename: maybe(text),
  caption: maybe(text),
});

export const textSchema = z.looseObject({ body: text });

export const locationSchema = z.looseObject({
  latitude: z.number(),
  longitude: z.number(),
  name: maybe(text),
  address: maybe(text),
  url: maybe(text),
});

export const sharedContactSchema = z.looseObject({
  name: maybe(z.looseObject({ formatted_name: maybe(text) })),
  phones: maybe(z.array(z.looseObject({ phone: maybe(text), wa_id: maybe(text) }))),
});
/** the `contacts` message type carries an array, unlike every other type */
export const sharedContactsSchema = z.array(sharedContactSchema);

/** Unknown interactive kinds are kept as received rather than rejected. */
export const interactiveSchema = z.looseObject({
  type: text,
  button_reply: maybe(z.looseObject({ id: text, title: text })),
  list_reply: maybe(z.looseObject({ id: text, title: text, description: maybe(text) })),
  /** a Flow (or address message) submitted; response_json is a JSON string */
  nfm_reply: maybe(z.looseObject({ name: maybe(text), body: maybe(text), response_json: text })),
});

/** a template quick-reply button, not an interactive button */
export const buttonSchema = z.looseObject({ text: text, payload: maybe(text) });

/** an empty or missing emoji means the user removed their reaction */
export const reactionSchema = z.looseObject({ message_id: text, emoji: maybe(text) });

export const orderSchema = z.looseObject({
  catalog_id: text,
  text: maybe(text),
  product_items: z.array(z.looseObject({
    product_retailer_id: text,
    quantity: z.union([z.number(), text]),
    item_price: z.union([z.number(), text]),
    currency: text,
  })),
});

/** user_changed_number (new_wa_id) or, with BSUIDs, user_changed_user_id */
export const systemSchema = z.looseObject({
  type: maybe(text),
  body: maybe(text),
  new_wa_id: maybe(text),
  wa_id: maybe(text),
  user_id: maybe(text),
  previous_user_id: maybe(text),
});

/** 131051 unsupported types (polls, edits, ...) name the kind here when Meta knows it */
export const unsupportedSchema = z.looseObject({ type: maybe(text) });

/** The payload schema of each inbound type we understand, keyed by `messages[].type`. */
export const INBOUND_PAYLOAD_SCHEMAS = {
  text: textSchema,
  image: imageSchema,
  video: videoSchema,
  audio: audioSchema,
  document: documentSchema,
  sticker: stickerSchema,
  location: locationSchema,
  contacts: sharedContactsSchema,
  interactive: interactiveSchema,
  button: buttonSchema,
  reaction: reactionSchema,
  order: orderSchema,
  system: systemSchema,
  /** the user opened the chat for the first time; there is no payload object */
  request_welcome: z.unknown(),
  unsupported: maybe(unsupportedSchema),
} as const;

export type InboundMessageType = keyof typeof INBOUND_PAYLOAD_SCHEMAS;
export const INBOUND_MESSAGE_TYPES = Object.keys(INBOUND_PAYLOAD_SCHEMAS) as InboundMessageType[];
export const MEDIA_MESSAGE_TYPES = ["image", "video", "audio", "document", "sticker"] as const;

/**
 * Fields every inbound message shares. `from` is the user's phone number; `from_user_id` (BSUID)
 * arrives from 2026 and `from` may then be missing, so neither is required.
 */
export const inboundMessageSchema = z.looseObject({
  id: text,
  timestamp: unixSecondsSchema,
  type: text,
  from: maybe(text),
  from_user_id: maybe(text),
  from_parent_user_id: maybe(text),
  context: maybe(contextSchema),
  referral: maybe(referralSchema),
  errors: maybe(z.array(metaErrorSchema)),
});

// ---------------------------------------------------------------- statuses

/** Under per-message pricing: pricing_model "PMP", category and type are open-ended strings. */
export const pricingSchema = z.looseObject({
  billable: maybe(z.boolean()),
  pricing_model: maybe(text),
  category: maybe(text),
  type: maybe(text),
});

/** omitted from v24.0 except for free entry-point conversations */
export const conversationSchema = z.looseObject({
  id: maybe(text),
  origin: maybe(z.looseObject({ type: maybe(text) })),
});

export const statusSchema = z.looseObject({
  id: text,
  /** sent | delivered | read | failed, plus whatever Meta adds: never a closed enum */
  status: text,
  timestamp: unixSecondsSchema,
  recipient_id: maybe(text),
  recipient_user_id: maybe(text),
  recipient_parent_user_id: maybe(text),
  recipient_type: maybe(text),
  biz_opaque_callback_data: maybe(text),
  conversation: maybe(conversationSchema),
  pricing: maybe(pricingSchema),
  errors: maybe(z.array(metaErrorSchema)),
});

export type MetaEnvelope = z.infer<typeof envelopeSchema>;
/** as received: the WABA id may be a number, which entrySchema turns into a string */
export type MetaEntry = z.input<typeof entrySchema>;
export type MetaMessagesValue = z.infer<typeof messagesValueSchema>;
export type MetaContact = z.infer<typeof contactSchema>;
export type MetaError = z.infer<typeof metaErrorSchema>;
export type MetaInboundMessage = z.infer<typeof inboundMessageSchema>;
export type MetaStatus = z.infer<typeof statusSchema>;
export type MetaPricing = z.infer<typeof pricingSchema>;
