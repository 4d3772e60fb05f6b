import { z } from "@hono/zod-openapi";
import { MESSAGE_STATUSES } from "../../../core/messaging/status.ts";

/**
 * Send bodies mirror the Cloud API's own (`POST /{phone_number_id}/messages`), so WhatsApp
 * developers can reuse what they know: same `type` and type-named objects, same limits.
 * Type-specific objects are checked for what Meta documents and otherwise passed through.
 */
const media = z.looseObject({
  id: z.string().min(1).optional(),
  link: z.url().optional(),
  caption: z.string().max(1024).optional(),
  filename: z.string().max(240).optional(),
}).refine((m) => Boolean(m.id) !== Boolean(m.link), { error: "Give exactly one of id or link" });

const interactive = z.looseObject({
  type: z.enum([
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "location_request_message",
    "catalog_message",
  ]),
  header: z.looseObject({ type: z.string() }).optional(),
  body: z.object({ text: z.string().min(1).max(1024) }).optional(),
  footer: z.object({ text: z.string().max(60) }).optional(),
  action: z.looseObject({
    buttons: z.array(z.object({
      type: z.literal("reply"),
      reply: z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) }),
    })).min(1).max(3).optional(),
    button: z.string().min(1).max(20).optional(),
    sections: z.array(z.looseObject({
      title: z.string().max(24).optional(),
      rows: z.array(z.object({
        id: z.string().min(1).max(200),
        title: z.string().min(1).max(24),
        description: z.string().max(72).optional(),
      })).min(1),
    })).min(1).max(10).optional(),
  }),
}).superRefine((v, ctx) => {
  if (v.type === "button" && !v.action.buttons) {
    ctx.addIssue({
      code: "custom",
      path: ["action", "buttons"],
      message: "Reply-button messages need 1 to 3 buttons",
    });
  }
  if (v.type === "list") {
    if (!v.action.button || !v.action.sections) {
      ctx.addIssue({
        code: "custom",
        path: ["action"],
        message: "List messages need action.button and action.sections",
      });
    } else if (v.action.sections.reduce((n, s) => n + s.rows.length, 0) > 10) {
      ctx.addIssue({
        code: "custom",
        path: ["action", "sections"],
        message: "Lists hold at most 10 rows in total",
      });
    }
  }
});

const template = z.looseObject({
  name: z.string().min(1).max(512),
  language: z.looseObject({
    code: z.string().min(2).max(15),
    policy: z.literal("deterministic").optional(),
  }),
  components: z.array(z.looseObject({
    type: z.enum(["header", "body", "button", "footer", "carousel", "limited_time_offer"]),
    sub_type: z.string().optional(),
    index: z.union([z.string(), z.number()]).optional(),
    parameters: z.array(z.looseObject({ type: z.string() })).optional(),
  })).optional(),
});

const common = {
  messaging_product: z.literal("whatsapp").optional(),
  recipient_type: z.literal("individual").optional(),
  to: z.string().min(3).max(140).openapi({
    example: "+44 7700 900123",
    description: "Phone number in international format, or a business-scoped user id",
  }),
  phone_number_id: z.string().regex(/^[0-9]{1,32}$/).optional()
    .openapi({
      description: "Meta phone number id that sends; needed when the client has several",
    }),
  context: z.object({ message_id: z.string().min(1) }).optional()
    .openapi({ description: "Reply to this wamid" }),
};

export const SendMessageSchema = z.discriminatedUnion("type", [
  z.object({
    ...common,
    type: z.literal("text"),
    text: z.object({ body: z.string().min(1).max(4096), preview_url: z.boolean().optional() }),
  }),
  z.object({ ...common, type: z.literal("template"), template }),
  z.object({ ...common, type: z.literal("image"), image: media }),
  z.object({ ...common, type: z.literal("video"), video: media }),
  z.object({ ...common, type: z.literal("audio"), audio: media }),
  z.object({ ...common, type: z.literal("document"), document: media }),
  z.object({ ...common, type: z.literal("sticker"), sticker: media }),
  z.object({ ...common, type: z.literal("interactive"), interactive }),
  z.object({
    ...common,
    type: z.literal("reaction"),
    reaction: z.object({ message_id: z.string().min(1), emoji: z.string().max(16) }),
  }),
  z.object({
    ...common,
    type: z.literal("location"),
    location: z.object({
      latitude: z.number().min(-90).max(90),
      longitude: z.number().min(-180).max(180),
      name: z.string().optional(),
      address: z.string().optional(),
    }),
  }),
  z.object({
    ...common,
    type: z.literal("contacts"),
    contacts: z.array(z.looseObject({ name: z.looseObject({ formatted_name: z.string() }) })).min(
      1,
    ),
  }),
]).openapi("SendMessage");

export const MarkReadSchema = z.object({
  messaging_product: z.literal("whatsapp").optional(),
  status: z.literal("read"),
  // wamids are printable ASCII ("wamid." and base64), well under 256 characters
  message_id: z.string().regex(/^[!-~]{1,256}$/).openapi({
    description: "The wamid of an inbound message",
  }),
  phone_number_id: z.string().regex(/^[0-9]{1,32}$/).optional(),
}).openapi("MarkRead");

/** Inbound messages are `received`; outbound ones move through the send statuses. */
export const MessageStatus = z.enum(["received", ...MESSAGE_STATUSES]);

export const MessageSchema = z.object({
  id: z.uuid(),
  direction: z.enum(["inbound", "outbound"]),
  wamid: z.string().nullable(),
  type: z.string(),
  status: MessageStatus,
  recipient: z.string().nullable().openapi({
    description: "The contact: wa_id digits or business-scoped user id",
  }),
  contact_id: z.uuid().nullable(),
  error: z.unknown().nullable(),
  attempts: z.number().int(),
  dead_lettered_at: z.string().nullable(),
  retry_of: z.uuid().nullable().openapi({
    description: "The dead-lettered message this one sends again (it stays failed)",
  }),
  created_at: z.string(),
  sent_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  read_at: z.string().nullable(),
  failed_at: z.string().nullable(),
  pricing_category: z.string().nullable(),
  content: z.unknown().optional().openapi({
    description: "Decrypted content (single-message reads only); null when none is stored or " +
      "it no longer opens (its key shredded, or the row changed outside this API)",
  }),
}).openapi("Message");

export const StatusEventSchema = z.object({
  status: z.string(),
  occurred_at: z.string(),
  pricing: z.unknown().nullable(),
  errors: z.unknown().nullable(),
}).openapi("StatusEvent");
