import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { parseContactRef } from "../../../core/messaging/outbound.ts";
import {
  contactView,
  getContact,
  listContacts,
  recordConsent,
} from "../../../services/contacts.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  label,
  Limit,
  notFoundResponse,
} from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const ContactSchema = z.object({
  id: z.uuid(),
  wa_id: z.string().nullable(),
  user_id: z.string().nullable(),
  profile_name: z.string().nullable(),
  consent: z.object({
    status: z.enum(["unknown", "opted_in", "opted_out"]),
    source: z.string().nullable(),
    updated_at: z.string().nullable(),
  }),
  last_inbound_at: z.string().nullable(),
  customer_service_window: z.object({
    open: z.boolean(),
    expires_at: z.string().nullable(),
  }).openapi({
    description:
      "Free-form messages are allowed while open (24 h after the contact's last message)",
  }),
  created_at: z.string(),
}).openapi("Contact");

const ContactParams = z.object({
  contact: z.string().max(140).refine((v) => parseContactRef(v) !== null, {
    error: "Must be a contact id, a phone number in international format or a " +
      "business-scoped user id",
  }).openapi({ example: "+44 7700 900123" }),
});
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

const list = createRoute({
  method: "get",
  path: "/contacts",
  operationId: "listContacts",
  tags: ["Contacts"],
  summary: "List contacts with consent and customer-service window",
  ...access("contacts:read"),
  request: {
    query: z.object({
      consent: z.enum(["unknown", "opted_in", "opted_out"]).optional(),
      limit: Limit,
      // deep offsets cost the database a scan of every skipped row
      offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    }),
  },
  responses: { 200: json(z.object({ data: z.array(ContactSchema) }), "Contacts"), ...AUTH_ERRORS },
});

const get = createRoute({
  method: "get",
  path: "/contacts/{contact}",
  operationId: "getContact",
  tags: ["Contacts"],
  summary: "One contact, by id, phone number or business-scoped user id",
  ...access("contacts:read"),
  request: { params: ContactParams },
  responses: {
    200: json(z.object({ contact: ContactSchema }), "The contact"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_contact"),
  },
});

const consent = createRoute({
  method: "put",
  path: "/contacts/{contact}/consent",
  operationId: "setContactConsent",
  tags: ["Contacts"],
  summary: "Record that a contact opted in or out (creates the contact if needed)",
  description:
    "Opted-out contacts are never messaged: sends to them are refused with `contact_opted_out`.",
  ...access("contacts:write"),
  request: {
    params: ContactParams,
    body: {
      content: {
        "application/json": {
          schema: z.object({
            status: z.enum(["opted_in", "opted_out"]),
            source: label(100).openapi({ example: "checkout_checkbox" }),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    200: json(z.object({ contact: ContactSchema }), "Recorded"),
    404: errorResponse("not_found"),
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_contact"),
    ...BODY_ERRORS,
  },
});

export function contactRoutes(
  deps: Pick<ServiceDeps, "contacts" | "dataKeys" | "events" | "doorbell" | "now">,
) {
  // `contact` passed ContactParams, so it parses
  const ref = (contact: string) => parseContactRef(contact)!;
  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => {
      const p = c.get("principal");
      return c.json({ data: await listContacts(deps, p.clientId, c.req.valid("query")) }, 200);
    })
    .openapi(get, async (c) => {
      const p = c.get("principal");
      const contact = await getContact(deps, p.clientId, ref(c.req.valid("param").contact));
      return c.json({ contact }, 200);
    })
    .openapi(consent, async (c) => {
      const p = c.get("principal");
      const body = c.req.valid("json");
      const { record } = await recordConsent(deps, p.clientId, ref(c.req.valid("param").contact), {
        status: body.status,
        source: body.source,
        actor: p.actor,
        requestId: c.get("requestId"),
      });
      return c.json({ contact: await contactView(deps, p.clientId, record) }, 200);
    });
}
