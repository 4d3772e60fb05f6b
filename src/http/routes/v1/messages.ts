import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { decryptFieldIfReadable } from "../../../core/crypto/envelope.ts";
import { signedTokens } from "../../../core/crypto/signed_token.ts";
import { AppError, notFound } from "../../../core/errors.ts";
import { isUuid } from "../../../core/ids.ts";
import { TEMPLATE_REFUSALS } from "../../../core/whatsapp/templates.ts";
import { parseContactRef } from "../../../core/messaging/outbound.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import { enqueueMessage, markRead, redriveMessage } from "../../../services/whatsapp_send.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  IdParams,
  IsoTime,
  Limit,
  notFoundResponse,
} from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";
import {
  MarkReadSchema,
  MessageSchema,
  MessageStatus,
  SendMessageSchema,
  StatusEventSchema,
} from "./message_schemas.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const send = createRoute({
  method: "post",
  path: "/messages",
  operationId: "sendMessage",
  tags: ["Messages"],
  summary: "Send a message (or mark one as read)",
  description:
    "The body mirrors the Cloud API's `POST /{phone_number_id}/messages`. The message is queued " +
    "durably and sent by the pipeline (paced, retried, tracked); the answer is 202 with our id. " +
    "With an `Idempotency-Key` header the same key always returns the same message and never " +
    'sends twice. A body `{"status": "read", "message_id": wamid}` marks an inbound message as read.',
  ...access("messages:send"),
  request: {
    headers: z.object({
      "idempotency-key": z.string().min(1).max(255).optional().openapi({
        description: "The same key always returns the same message and never sends twice; the " +
          "same key with another body is 409 `idempotency_key_reused`",
        example: "order-1001-shipped",
      }),
    }),
    body: {
      content: { "application/json": { schema: z.union([SendMessageSchema, MarkReadSchema]) } },
      required: true,
    },
  },
  responses: {
    202: json(
      z.object({ message: MessageSchema }),
      "Queued (or, for a repeated Idempotency-Key, the message it created)",
    ),
    200: json(z.object({ success: z.literal(true) }), "Marked as read"),
    404: notFoundResponse,
    409: errorResponse("idempotency_key_reused"),
    // refused before anything was sent (for a mark-as-read: the account has no token)
    422: errorResponse(
      "contact_opted_out",
      "outside_customer_service_window",
      "unknown_phone_number",
      "phone_number_required",
      "no_access_token",
      ...TEMPLATE_REFUSALS,
    ),
    502: errorResponse("graph_error"),
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_recipient"),
    ...BODY_ERRORS,
  },
});

const list = createRoute({
  method: "get",
  path: "/messages",
  operationId: "listMessages",
  tags: ["Messages"],
  summary: "List messages, newest first, with cursor pagination",
  ...access("messages:read"),
  request: {
    query: z.object({
      status: MessageStatus.optional(),
      direction: z.enum(["inbound", "outbound"]).optional(),
      contact: z.string().max(140).refine((v) => parseContactRef(v) !== null, {
        error: "Must be a contact id, a phone number in international format or a " +
          "business-scoped user id",
      }).optional().openapi({
        description: "contact id, phone number (wa_id) or business-scoped user id",
      }),
      dead_letter: z.enum(["true", "false"]).optional().openapi({
        description: "only messages whose retries ran out",
      }),
      since: IsoTime.optional(),
      until: IsoTime.optional(),
      limit: Limit,
      cursor: z.string().max(512).optional().openapi({
        description: "next_cursor from the previous page (opaque; only this API issues them)",
      }),
    }),
  },
  responses: {
    200: json(
      z.object({ data: z.array(MessageSchema), next_cursor: z.string().nullable() }),
      "A page",
    ),
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_cursor"),
  },
});

const get = createRoute({
  method: "get",
  path: "/messages/{id}",
  operationId: "getMessage",
  tags: ["Messages"],
  summary: "One message with its content and status timeline",
  ...access("messages:read"),
  request: { params: IdParams },
  responses: {
    200: json(
      z.object({ message: MessageSchema, timeline: z.array(StatusEventSchema) }),
      "The message",
    ),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const retry = createRoute({
  method: "post",
  path: "/messages/{id}/retry",
  operationId: "retryMessage",
  tags: ["Messages"],
  summary: "Re-drive a dead-lettered message (retries ran out on retryable errors)",
  description:
    "Sends the message again as a new message whose `retry_of` names the dead-lettered one, " +
    "which stays `failed` (statuses only move forward). The new message follows every rule of a " +
    "new send. Calling again returns the same new message (200) and never sends twice.",
  ...access("messages:send"),
  request: { params: IdParams },
  responses: {
    202: json(z.object({ message: MessageSchema }), "The new message, queued"),
    200: json(z.object({ message: MessageSchema }), "The new message of an earlier re-drive"),
    404: notFoundResponse,
    409: errorResponse("not_dead_lettered", "message_not_resendable"),
    // a re-drive is a new send: its template is checked again
    422: errorResponse(
      "contact_opted_out",
      "outside_customer_service_window",
      "unknown_phone_number",
      ...TEMPLATE_REFUSALS,
    ),
    ...AUTH_ERRORS,
  },
});

// created_at exactly as PostgREST writes a timestamptz: nothing else is ever put in the filter
const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)$/;

export function messageRoutes(deps: ServiceDeps) {
  // signed with a key derived from the pepper, a secret only this server holds (the JWT secret is
  // shared with Supabase): a cursor is opaque, so a client cannot steer the filter it becomes
  const cursors = signedTokens(deps.env.API_KEY_PEPPER, "messages list cursor");
  const encodeCursor = (clientId: string, row: { created_at: string; id: string }) =>
    cursors.sign(`messages:${clientId}`, `${row.created_at}|${row.id}`);
  const decodeCursor = async (clientId: string, cursor: string) => {
    const payload = await cursors.open(`messages:${clientId}`, cursor);
    const [createdAt, id, ...rest] = payload?.split("|") ?? [];
    if (!rest.length && CURSOR_TIME.test(createdAt ?? "") && isUuid(id ?? "")) {
      return { createdAt, id };
    }
    throw new AppError(400, "invalid_cursor", "The cursor is not one this API returned");
  };

  return new OpenAPIHono<AppEnv>()
    .openapi(send, async (c) => {
      const p = c.get("principal");
      const body = c.req.valid("json");
      if ("status" in body) {
        await markRead(deps, p.clientId, body.message_id, body.phone_number_id ?? null);
        return c.json({ success: true as const }, 200);
      }
      const { to, type, phone_number_id, messaging_product: _m, recipient_type: _r, ...content } =
        body;
      const { message } = await enqueueMessage(deps, p.clientId, {
        to,
        type,
        phone_number_id,
        content,
      }, c.req.valid("header")["idempotency-key"] ?? null);
      return c.json({ message: pick(message as unknown as Record<string, unknown>) }, 202);
    })
    .openapi(list, async (c) => {
      const p = c.get("principal");
      const q = c.req.valid("query");
      const rows = await deps.messages.list(p.clientId, {
        status: q.status,
        direction: q.direction,
        contact: q.contact ? parseContactRef(q.contact)! : undefined,
        deadLettered: q.dead_letter === undefined ? undefined : q.dead_letter === "true",
        since: q.since,
        until: q.until,
        before: q.cursor ? await decodeCursor(p.clientId, q.cursor) : undefined,
        limit: q.limit + 1,
      }) as Array<z.infer<typeof MessageSchema>>;
      const page = rows.slice(0, q.limit);
      const next = rows.length > q.limit
        ? await encodeCursor(p.clientId, page[page.length - 1])
        : null;
      return c.json({ data: page, next_cursor: next }, 200);
    })
    .openapi(get, async (c) => {
      const p = c.get("principal");
      const found = await deps.messages.get(p.clientId, c.req.valid("param").id);
      if (!found) throw notFound("Message");
      const { content_ciphertext, ...message } = found;
      // null when not stored, shredded, or rewritten by the client's own token at PostgREST
      const text = content_ciphertext === null ? null : await decryptFieldIfReadable(
        await deps.dataKeys.forClient(p.clientId),
        content_ciphertext,
        `message:${message.id}`,
      );
      const content = text === null ? null : JSON.parse(text);
      const timeline = await deps.messages.timeline(p.clientId, message.id);
      return c.json({
        message: { ...message as z.infer<typeof MessageSchema>, content },
        timeline: timeline as Array<z.infer<typeof StatusEventSchema>>,
      }, 200);
    })
    .openapi(retry, async (c) => {
      const p = c.get("principal");
      const { message, created } = await redriveMessage(deps, p.clientId, c.req.valid("param").id);
      const body = { message: pick(message as unknown as Record<string, unknown>) };
      return created ? c.json(body, 202) : c.json(body, 200);
    });
}

/** the columns MessageSchema shows (MessageView's), each null when the row lacks it */
const VIEW_KEYS = Object.keys(MessageSchema.shape).filter((k) => k !== "content");

function pick(m: Record<string, unknown>): z.infer<typeof MessageSchema> {
  const out: Record<string, unknown> = {};
  for (const k of VIEW_KEYS) out[k] = m[k] ?? null;
  return out as z.infer<typeof MessageSchema>;
}
