import * as z from "zod";
import { INBOUND_MESSAGE_TYPES } from "../whatsapp/webhook_payload.ts";

/**
 * The events a client's webhook endpoints receive: one JSON body `{type, timestamp, data}` per
 * event. These schemas are the contract: the producers build `data` as `ClientEventData<type>`,
 * tests check what the pipeline sends against them, and `/openapi.json` publishes them in its
 * `webhooks` section, from which the TypeScript client types `verifyWebhook`'s result.
 * `.meta({ id })` names each one as a component of the document.
 */

const Uuid = z.uuid();
/** Graph error codes are numbers; errors raised before Meta is called use a word */
const ErrorCode = z.union([z.number().int(), z.string()]);

const MessageReceivedData = z.object({
  id: Uuid.meta({ description: "Our id of the message: `GET /v1/messages/{id}` reads it" }),
  wamid: z.string().meta({ description: "WhatsApp's id of the message" }),
  phone_number_id: z.string().meta({ description: "The business number that received it" }),
  from: z.string().nullable().meta({
    description: "The sender's phone number (wa_id); null for users who withhold it",
  }),
  from_user_id: z.string().nullable().meta({ description: "The sender's business-scoped user id" }),
  profile_name: z.string().nullable(),
  type: z.enum(INBOUND_MESSAGE_TYPES).meta({
    description: "Meta's message type; types Meta adds later arrive as `unsupported`",
  }),
  text: z.string().nullable().meta({
    description: "The human-readable part: body, caption, button text or reply title",
  }),
  content: z.record(z.string(), z.unknown()).meta({
    description: 'The type-specific object as Meta sent it (for example `{"text": {...}}`)',
  }),
  context_wamid: z.string().nullable().meta({ description: "The message this one replies to" }),
  timestamp: z.string().meta({ description: "When the user sent it (ISO 8601)" }),
}).meta({ id: "MessageReceivedData" });

const StatusError = z.looseObject({
  code: ErrorCode,
  title: z.string(),
  message: z.string().optional(),
  details: z.string().nullable().optional(),
}).meta({ id: "MessageStatusError" });

const MessageStatusData = z.object({
  message_id: Uuid.nullable().meta({
    description: "Our id of the message; null for a status of a message not sent through this API",
  }),
  wamid: z.string().nullable().meta({
    description: "WhatsApp's id of the message; null when it failed before Meta accepted it",
  }),
  status: z.string().meta({
    description:
      "`sent`, `delivered`, `read` or `failed`; any other status Meta reports is passed through",
    examples: ["delivered"],
  }),
  occurred_at: z.string().meta({ description: "When it happened (ISO 8601)" }),
  errors: z.array(StatusError).nullable().meta({ description: "Why it failed" }),
}).meta({ id: "MessageStatusData" });

const AccountAlertData = z.object({
  reason: z.enum(["access_token_invalid"]).meta({
    description: "`access_token_invalid`: Meta rejected the WhatsApp access token (code 190)",
  }),
  code: ErrorCode,
  title: z.string(),
  phone_number_id: z.string(),
}).meta({ id: "AccountAlertData" });

const ConsentChangedData = z.object({
  contact_id: Uuid.meta({ description: "Our id of the contact: `GET /v1/contacts/{id}` reads it" }),
  wa_id: z.string().nullable().meta({ description: "The contact's phone number (wa_id)" }),
  user_id: z.string().nullable().meta({ description: "The contact's business-scoped user id" }),
  status: z.enum(["opted_in", "opted_out"]),
  previous_status: z.enum(["unknown", "opted_in", "opted_out"]),
  source: z.string().meta({
    description: "Where it was decided, as recorded (for example `keyword:STOP`)",
    examples: ["keyword:STOP"],
  }),
  actor: z.string().meta({
    description: "Who recorded it: `api_key:<id>`, `user:<sub>`, or `plugin:<id>` for a plugin " +
      "such as the opt-out keywords",
  }),
  occurred_at: z.string().meta({ description: "When it was recorded (ISO 8601)" }),
}).meta({ id: "ContactConsentChangedData" });

const WebhookTestData = z.object({
  endpoint_id: Uuid.meta({ description: "The endpoint the test was sent to" }),
}).meta({ id: "WebhookTestData" });

const TemplateRef = {
  id: Uuid.meta({
    description: "Our id of the template: `GET /v1/templates/{id}` reads it (until it is deleted)",
  }),
  waba_id: z.string().meta({
    description: "Meta's id of the template's WhatsApp Business account",
  }),
  name: z.string(),
  language: z.string().meta({ examples: ["en_US"] }),
  category: z.string().nullable().meta({
    description: "MARKETING, UTILITY or AUTHENTICATION, as Meta reports it",
  }),
};

const TemplateStatusData = z.object({
  ...TemplateRef,
  status: z.string().meta({
    description: "The new status as Meta reports it (APPROVED, REJECTED, PAUSED, DISABLED, …), " +
      "or DELETED for a template Meta no longer lists",
    examples: ["APPROVED"],
  }),
  previous_status: z.string().nullable().meta({
    description: "null for a template first heard of through this change",
  }),
  reason: z.string().nullable().meta({
    description: "Meta's reason for a rejection or a pause, as Meta words it",
  }),
}).meta({ id: "TemplateStatusData" });

const TemplateQualityData = z.object({
  ...TemplateRef,
  quality_score: z.string().nullable().meta({
    description: "GREEN, YELLOW, RED or UNKNOWN as Meta reports it; null when Meta reports none",
    examples: ["RED"],
  }),
  previous_quality_score: z.string().nullable(),
}).meta({ id: "TemplateQualityData" });

const event = <T extends string, D extends z.ZodType>(
  type: T,
  data: D,
  meta: { id: string; description: string },
) =>
  z.object({
    type: z.literal(type),
    timestamp: z.string().meta({ description: "When the event was recorded (ISO 8601)" }),
    data,
  }).meta(meta);

/** Every event type with its body, by type. */
export const CLIENT_EVENT_SCHEMAS = {
  "message.received": event(
    "message.received",
    MessageReceivedData,
    { id: "MessageReceivedEvent", description: "A contact wrote to one of the client's numbers" },
  ),
  "message.status": event(
    "message.status",
    MessageStatusData,
    {
      id: "MessageStatusEvent",
      description: "A new status of an outbound message: every status event Meta reports, and " +
        "a failure decided here (for example no access token)",
    },
  ),
  "account.alert": event(
    "account.alert",
    AccountAlertData,
    { id: "AccountAlertEvent", description: "Something the client must act on" },
  ),
  "contact.consent_changed": event(
    "contact.consent_changed",
    ConsentChangedData,
    {
      id: "ContactConsentChangedEvent",
      description: "A contact's consent changed: through the API, or by a keyword the contact " +
        "sent (STOP, START, …)",
    },
  ),
  "template.status": event(
    "template.status",
    TemplateStatusData,
    {
      id: "TemplateStatusEvent",
      description: "A template's status changed at Meta: approved, rejected, paused (sends are " +
        "refused until it is approved again), disabled, or deleted",
    },
  ),
  "template.quality": event(
    "template.quality",
    TemplateQualityData,
    { id: "TemplateQualityEvent", description: "Meta changed a template's quality score" },
  ),
  "webhook.test": event(
    "webhook.test",
    WebhookTestData,
    {
      id: "WebhookTestEvent",
      description: "Sent on request (`POST /v1/webhook-endpoints/{id}/test`) to one endpoint only",
    },
  ),
} as const;

export type ClientEventType = keyof typeof CLIENT_EVENT_SCHEMAS;
export type ClientEventData<T extends ClientEventType> = z.infer<
  (typeof CLIENT_EVENT_SCHEMAS)[T]
>["data"];

/** Any event as its endpoint receives it. */
export const ClientEventSchema = z.discriminatedUnion("type", [
  CLIENT_EVENT_SCHEMAS["message.received"],
  CLIENT_EVENT_SCHEMAS["message.status"],
  CLIENT_EVENT_SCHEMAS["account.alert"],
  CLIENT_EVENT_SCHEMAS["contact.consent_changed"],
  CLIENT_EVENT_SCHEMAS["template.status"],
  CLIENT_EVENT_SCHEMAS["template.quality"],
  CLIENT_EVENT_SCHEMAS["webhook.test"],
]);
export type ClientEvent = z.infer<typeof ClientEventSchema>;
