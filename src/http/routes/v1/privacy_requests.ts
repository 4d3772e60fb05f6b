import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { notFound } from "../../../core/errors.ts";
import { REQUEST_TYPES } from "../../../core/privacy/subject.ts";
import type { PrivacyService } from "../../../services/privacy_requests.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  IdParams,
  IsoTime,
  label,
  Limit,
  notFoundResponse,
} from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const STATUSES = [
  "unverified",
  "verified",
  "approved",
  "in_progress",
  "completed",
  "rejected",
  "expired",
] as const;

const PrivacyRequestSchema = z.object({
  id: z.uuid(),
  reference_prefix: z.string().openapi({
    description: "The first four characters of the confirmation code, to tell requests apart",
    example: "7K3Q",
  }),
  type: z.enum(REQUEST_TYPES),
  channel: z.enum(["web", "api", "shopify", "meta"]).openapi({
    description: "Where it came from: the public page, this API, a Shopify compliance webhook " +
      "or Meta's data deletion callback",
  }),
  status: z.enum(STATUSES),
  subject_kind: z.enum(["whatsapp", "meta_user", "shopify_customer", "shopify_shop"]),
  verification: z.object({
    method: z.enum(["whatsapp_code", "client_attestation", "meta_signature", "shopify_signature"]),
    verified_at: z.string().nullable(),
    attested_by: z.string().nullable(),
    attested_at: z.string().nullable(),
  }),
  received_at: z.string(),
  deadline: z.string().openapi({
    description: "When it must be answered: one month after it was received, or the extended date",
  }),
  extension: z.object({ until: z.string(), reason: z.string().nullable() }).nullable(),
  overdue: z.boolean(),
  rejection_reason: z.string().nullable(),
  completed_at: z.string().nullable(),
  parts: z.array(z.object({
    client_id: z.uuid(),
    status: z.enum(["pending", "queued", "held", "done", "failed"]),
    result: z.record(z.string(), z.unknown()).openapi({
      description: "What was done, in counts: rows erased per kind of data, messages exported, …",
    }),
    done_at: z.string().nullable(),
  })).openapi({ description: "This client's part of the request (each client sees its own)" }),
  exports: z.array(z.object({
    id: z.uuid(),
    client_id: z.uuid(),
    bytes: z.number().int(),
    expires_at: z.string(),
    downloaded_at: z.string().nullable(),
    url: z.string().nullable().openapi({
      description: "Path of the download link (once, until expires_at), for requests this " +
        "client filed; null once used or expired",
    }),
  })),
}).openapi("PrivacyRequest");

const FileSchema = z.object({
  type: z.enum(REQUEST_TYPES),
  subject: z.object({
    phone: z.string().min(3).max(40).optional().openapi({ example: "+44 7700 900123" }),
    user_id: z.string().min(3).max(140).optional().openapi({
      description: "A business-scoped user id, for a contact whose number is hidden",
    }),
  }).refine((s) => !!s.phone !== !!s.user_id, { error: "Give the subject's phone or user_id" }),
  correction: z.object({ profile_name: label(200) }).optional().openapi({
    description: "For a correction: the subject's name as it should be",
  }),
  verification: z.discriminatedUnion("method", [
    z.object({
      method: z.literal("client_attestation"),
      attested_by: label(200).openapi({
        description: "Who at your business checked the subject's identity",
        example: "jane.doe@shop.example",
      }),
      attested_at: IsoTime.optional().openapi({ description: "When (default: now)" }),
    }),
    z.object({ method: z.literal("whatsapp_code") }).openapi({
      description: "We send a one-time code to the subject's WhatsApp number; they enter it on " +
        "the status page of the confirmation code",
    }),
  ]),
  external_id: label(200).optional().openapi({
    description: "Your id for this request: filing again with it returns the first request",
  }),
}).refine((b) => b.type !== "correction" || b.correction, {
  error: "A correction says what to correct (correction.profile_name)",
  path: ["correction"],
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const file = createRoute({
  method: "post",
  path: "/privacy/requests",
  operationId: "createPrivacyRequest",
  tags: ["Privacy"],
  summary: "Forward a data-subject request (access, correction, deletion, consent withdrawal)",
  description: "For a request a person made to you about the data we process for you. Either " +
    "attest that you checked who they are (recorded with who attested and when), or let us " +
    "send them a one-time code on WhatsApp. The answer's `confirmation_code` (shown once) opens " +
    "the request's status page, `/privacy/requests/{code}`, where the code is entered. Nothing " +
    "is carried out before verification and our privacy team's approval; a consent withdrawal " +
    "is carried out as soon as it is verified.",
  ...access("privacy:write"),
  request: { body: { content: { "application/json": { schema: FileSchema } }, required: true } },
  responses: {
    201: json(
      z.object({
        request: PrivacyRequestSchema,
        confirmation_code: z.string().nullable().openapi({
          description: "Shown once (only its hash is kept); null when external_id named an " +
            "earlier request",
        }),
        status_url: z.string().nullable(),
      }),
      "Filed",
    ),
    200: json(
      z.object({
        request: PrivacyRequestSchema,
        confirmation_code: z.null(),
        status_url: z.null(),
      }),
      "A request with this external_id was filed before: that one",
    ),
    ...AUTH_ERRORS,
    ...BODY_ERRORS,
    400: errorResponse("invalid_request", "invalid_recipient"),
    422: errorResponse("unknown_subject", "verification_unavailable"),
  },
});

const list = createRoute({
  method: "get",
  path: "/privacy/requests",
  operationId: "listPrivacyRequests",
  tags: ["Privacy"],
  summary: "This client's data-subject requests, newest first",
  description: "Requests you filed and requests people made to us that concern your data.",
  ...access("privacy:write"),
  request: {
    query: z.object({
      status: z.enum(STATUSES).optional(),
      limit: Limit,
      before: IsoTime.optional().openapi({ description: "received_at of the last one seen" }),
    }),
  },
  responses: {
    200: json(z.object({ data: z.array(PrivacyRequestSchema) }), "Requests"),
    ...AUTH_ERRORS,
  },
});

const get = createRoute({
  method: "get",
  path: "/privacy/requests/{id}",
  operationId: "getPrivacyRequest",
  tags: ["Privacy"],
  summary: "One data-subject request with its state, deadline and this client's part",
  ...access("privacy:write"),
  request: { params: IdParams },
  responses: {
    200: json(z.object({ request: PrivacyRequestSchema }), "The request"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

export function privacyRequestRoutes(privacy: PrivacyService) {
  return new OpenAPIHono<AppEnv>()
    .openapi(file, async (c) => {
      const p = c.get("principal");
      const filed = await privacy.fileFromClient(p, c.req.valid("json"));
      if (!filed.created) {
        return c.json({ request: filed.request, confirmation_code: null, status_url: null }, 200);
      }
      return c.json({
        request: filed.request,
        confirmation_code: filed.confirmationCode,
        status_url: `/privacy/requests/${filed.confirmationCode}`,
      }, 201);
    })
    .openapi(list, async (c) => {
      const q = c.req.valid("query");
      const data = await privacy.listForClient(c.get("principal").clientId, q);
      return c.json({ data }, 200);
    })
    .openapi(get, async (c) => {
      const request = await privacy.getForClient(
        c.get("principal").clientId,
        c.req.valid("param").id,
      );
      if (!request) throw notFound("Privacy request");
      return c.json({ request }, 200);
    });
}
