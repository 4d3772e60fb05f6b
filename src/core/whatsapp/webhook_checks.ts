/**
 * Hand-written twins of the schemas in webhook_payload.ts, one per schema and in the same order:
 * `isContact(value)` is true exactly when `contactSchema.safeParse(value).success` is. They only
 * answer yes or no, allocate nothing and copy nothing, which is what parse_webhook.ts needs on the
 * hot path: zod's walk (a copy of every object, an issue list per field) was a third of a webhook's
 * CPU. zod stays the definition and the voice: whenever a check says no, parse_webhook.ts asks
 * the schema, whose issues become the error message, and whose yes wins should the two ever differ.
 *
 * Change a schema, change its twin: tests/core/whatsapp/webhook_checks_test.ts walks every field
 * each schema declares and fails when a twin disagrees with it.
 */
import {
  type InboundMessageType,
  UNIX_SECONDS_DIGITS,
  WHATSAPP_OBJECT,
} from "./webhook_payload.ts";

type Check = (value: unknown) => boolean;
type Fields = Record<string, unknown>;

// zod's rules: an object is any non-null non-array object; z.number() refuses NaN and ±Infinity;
// a `nullish` field may be absent, undefined or null
const isObject = (v: unknown): v is Fields =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const maybeText = (v: unknown) => v == null || typeof v === "string";
const maybeBoolean = (v: unknown) => v == null || typeof v === "boolean";
const maybeArray = (v: unknown) => v == null || Array.isArray(v);
const maybe = (check: Check, v: unknown) => v == null || check(v);

/** By index, not `every()`: zod checks the holes of a sparse array too (as undefined). */
function isArrayOf(check: Check, v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) if (!check(v[i])) return false;
  return true;
}

export function isUnixSeconds(v: unknown): boolean {
  return typeof v === "string"
    ? UNIX_SECONDS_DIGITS.test(v)
    : Number.isSafeInteger(v) && (v as number) >= 0;
}

// ---------------------------------------------------------------- envelope

export const isEnvelope = (v: unknown): boolean =>
  isObject(v) && v.object === WHATSAPP_OBJECT && Array.isArray(v.entry);

export const isEntry = (v: unknown): boolean =>
  isObject(v) && (typeof v.id === "string" || isNumber(v.id)) && Array.isArray(v.changes);

/** `value: z.unknown()` takes any value but, being required, not a missing key */
export const isChange = (v: unknown): boolean =>
  isObject(v) && typeof v.field === "string" && "value" in v;

export const isMetadata = (v: unknown): boolean =>
  isObject(v) && typeof v.display_phone_number === "string" &&
  typeof v.phone_number_id === "string";

export const isMessagesValue = (v: unknown): boolean =>
  isObject(v) && isMetadata(v.metadata) && maybeArray(v.contacts) && maybeArray(v.messages) &&
  maybeArray(v.statuses) && maybeArray(v.errors);

const isProfile = (v: unknown) => isObject(v) && maybeText(v.name) && maybeText(v.username);

export const isContact = (v: unknown): boolean =>
  isObject(v) && maybeText(v.wa_id) && maybeText(v.user_id) && maybeText(v.parent_user_id) &&
  maybe(isProfile, v.profile);

// ---------------------------------------------------------------- shared pieces

const isErrorData = (v: unknown) => isObject(v) && maybeText(v.details);

export const isMetaError = (v: unknown): boolean =>
  isObject(v) && isNumber(v.code) && maybeText(v.title) && maybeText(v.message) &&
  maybe(isErrorData, v.error_data) && maybeText(v.href);

const isReferredProduct = (v: unknown) =>
  isObject(v) && typeof v.catalog_id === "string" && typeof v.product_retailer_id === "string";

export const isContext = (v: unknown): boolean =>
  isObject(v) && maybeText(v.id) && maybeText(v.from) && maybeBoolean(v.forwarded) &&
  maybeBoolean(v.frequently_forwarded) && maybe(isReferredProduct, v.referred_product);

export const isReferral = (v: unknown): boolean =>
  isObject(v) && maybeText(v.source_url) && maybeText(v.source_id) &&
  maybeText(v.source_type) && maybeText(v.headline) && maybeText(v.body) &&
  maybeText(v.media_type) && maybeText(v.ctwa_clid);

// ---------------------------------------------------------------- inbound messages

const isMedia = (v: Fields) =>
  typeof v.id === "string" && maybeText(v.mime_type) && maybeText(v.sha256) && maybeText(v.url);

export const isImage = (v: unknown): boolean => isObject(v) && isMedia(v) && maybeText(v.caption);
export const isVideo = isImage;
export const isSticker = (v: unknown): boolean =>
  isObject(v) && isMedia(v) && maybeBoolean(v.animated);
export const isAudio = (v: unknown): boolean => isObject(v) && isMedia(v) && maybeBoolean(v.voice);
export const isDocument = (v: unknown): boolean =>
  isObject(v) && isMedia(v) && maybeText(v.filename) && maybeText(v.caption);

export const isText = (v: unknown): boolean => isObject(v) && typeof v.body === "string";

export const isLocation = (v: unknown): boolean =>
  isObject(v) && isNumber(v.latitude) && isNumber(v.longitude) && maybeText(v.name) &&
  maybeText(v.address) && maybeText(v.url);

const isContactName = (v: unknown) => isObject(v) && maybeText(v.formatted_name);
const isContactPhone = (v: unknown) => isObject(v) && maybeText(v.phone) && maybeText(v.wa_id);
const isContactPhones = (v: unknown) => isArrayOf(isContactPhone, v);

export const isSharedContact = (v: unknown): boolean =>
  isObject(v) && maybe(isContactName, v.name) && maybe(isContactPhones, v.phones);
export const isSharedContacts = (v: unknown): boolean => isArrayOf(isSharedContact, v);

const isButtonReply = (v: unknown) =>
  isObject(v) && typeof v.id === "string" && typeof v.title === "string";
const isListReply = (v: unknown) => isButtonReply(v) && maybeText((v as Fields).description);
const isNfmReply = (v: unknown) =>
  isObject(v) && maybeText(v.name) && maybeText(v.body) && typeof v.response_json === "string";

export const isInteractive = (v: unknown): boolean =>
  isObject(v) && typeof v.type === "string" && maybe(isButtonReply, v.button_reply) &&
  maybe(isListReply, v.list_reply) && maybe(isNfmReply, v.nfm_reply);

export const isButton = (v: unknown): boolean =>
  isObject(v) && typeof v.text === "string" && maybeText(v.payload);

export const isReaction = (v: unknown): boolean =>
  isObject(v) && typeof v.message_id === "string" && maybeText(v.emoji);

const isNumberOrText = (v: unknown) => typeof v === "string" || isNumber(v);
const isProductItem = (v: unknown) =>
  isObject(v) && typeof v.product_retailer_id === "string" && isNumberOrText(v.quantity) &&
  isNumberOrText(v.item_price) && typeof v.currency === "string";

export const isOrder = (v: unknown): boolean =>
  isObject(v) && typeof v.catalog_id === "string" && maybeText(v.text) &&
  isArrayOf(isProductItem, v.product_items);

export const isSystem = (v: unknown): boolean =>
  isObject(v) && maybeText(v.type) && maybeText(v.body) && maybeText(v.new_wa_id) &&
  maybeText(v.wa_id) && maybeText(v.user_id) && maybeText(v.previous_user_id);

export const isUnsupported = (v: unknown): boolean => isObject(v) && maybeText(v.type);

/** The twin of INBOUND_PAYLOAD_SCHEMAS, keyed the same way. */
export const INBOUND_PAYLOAD_CHECKS: Readonly<Record<InboundMessageType, Check>> = {
  text: isText,
  image: isImage,
  video: isVideo,
  audio: isAudio,
  document: isDocument,
  sticker: isSticker,
  location: isLocation,
  contacts: isSharedContacts,
  interactive: isInteractive,
  button: isButton,
  reaction: isReaction,
  order: isOrder,
  system: isSystem,
  request_welcome: () => true,
  unsupported: (v) => maybe(isUnsupported, v),
};

const isMetaErrors = (v: unknown) => isArrayOf(isMetaError, v);

export const isInboundMessage = (v: unknown): boolean =>
  isObject(v) && typeof v.id === "string" && isUnixSeconds(v.timestamp) &&
  typeof v.type === "string" && maybeText(v.from) && maybeText(v.from_user_id) &&
  maybeText(v.from_parent_user_id) && maybe(isContext, v.context) &&
  maybe(isReferral, v.referral) && maybe(isMetaErrors, v.errors);

// ---------------------------------------------------------------- statuses

export const isPricing = (v: unknown): boolean =>
  isObject(v) && maybeBoolean(v.billable) && maybeText(v.pricing_model) &&
  maybeText(v.category) && maybeText(v.type);

const isOrigin = (v: unknown) => isObject(v) && maybeText(v.type);

export const isConversation = (v: unknown): boolean =>
  isObject(v) && maybeText(v.id) && maybe(isOrigin, v.origin);

export const isStatus = (v: unknown): boolean =>
  isObject(v) && typeof v.id === "string" && typeof v.status === "string" &&
  isUnixSeconds(v.timestamp) && maybeText(v.recipient_id) && maybeText(v.recipient_user_id) &&
  maybeText(v.recipient_parent_user_id) && maybeText(v.recipient_type) &&
  maybeText(v.biz_opaque_callback_data) && maybe(isConversation, v.conversation) &&
  maybe(isPricing, v.pricing) && maybe(isMetaErrors, v.errors);
