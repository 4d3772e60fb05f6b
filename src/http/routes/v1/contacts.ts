import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "../../../adapters/supabase/audit.ts";
import { decryptFieldIfReadable } from "../../../core/crypto/envelope.ts";
import { DatabaseError, notFound } from "../../../core/errors.ts";
import { parseContactRef } from "../../../core/messaging/outbound.ts";
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

const WINDOW_MS = 24 * 3600 * 1000;
const COLUMNS =
  "id, wa_id, user_id, profile_name_ciphertext, consent_status, consent_source, consent_updated_at, last_inbound_at, created_at";

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

type Row = {
  id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name_ciphertext: string | null;
  consent_status: "unknown" | "opted_in" | "opted_out";
  consent_source: string | null;
  consent_updated_at: string | null;
  last_inbound_at: string | null;
  created_at: string;
};

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

export function contactRoutes(deps: Pick<ServiceDeps, "db" | "dataKeys" | "now">) {
  const view = async (clientId: string, row: Row): Promise<z.infer<typeof ContactSchema>> => {
    const last = row.last_inbound_at ? Date.parse(row.last_inbound_at) : null;
    const expires = last === null ? null : last + WINDOW_MS;
    return {
      id: row.id,
      wa_id: row.wa_id,
      user_id: row.user_id,
      profile_name: row.profile_name_ciphertext === null ? null : await decryptFieldIfReadable(
        await deps.dataKeys.forClient(clientId),
        row.profile_name_ciphertext,
        `contact_name:${clientId}`,
      ),
      consent: {
        status: row.consent_status,
        source: row.consent_source,
        updated_at: row.consent_updated_at,
      },
      last_inbound_at: row.last_inbound_at,
      customer_service_window: {
        open: expires !== null && expires > deps.now(),
        expires_at: expires === null ? null : new Date(expires).toISOString(),
      },
      created_at: row.created_at,
    };
  };

  /** `ref` passed ContactParams, so it parses */
  const find = async (clientId: string, ref: string): Promise<Row | null> => {
    const r = parseContactRef(ref)!;
    const query = deps.db.forClient(clientId).from("contacts").select(COLUMNS);
    const { data, error } =
      await ("id" in r
        ? query.eq("id", r.id)
        : "waId" in r
        ? query.eq("wa_id", r.waId)
        : query.eq("user_id", r.userId)).maybeSingle();
    if (error) throw new DatabaseError("Could not read the contact", error);
    return data as Row | null;
  };

  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => {
      const p = c.get("principal");
      const q = c.req.valid("query");
      let query = deps.db.forClient(p.clientId).from("contacts").select(COLUMNS);
      if (q.consent) query = query.eq("consent_status", q.consent);
      const { data, error } = await query.order("created_at", { ascending: false })
        .range(q.offset, q.offset + q.limit - 1);
      if (error) throw new DatabaseError("Could not list contacts", error);
      return c.json(
        { data: await Promise.all((data as Row[]).map((r) => view(p.clientId, r))) },
        200,
      );
    })
    .openapi(get, async (c) => {
      const p = c.get("principal");
      const row = await find(p.clientId, c.req.valid("param").contact);
      if (!row) throw notFound("Contact");
      return c.json({ contact: await view(p.clientId, row) }, 200);
    })
    .openapi(consent, async (c) => {
      const p = c.get("principal");
      const ref = c.req.valid("param").contact;
      const body = c.req.valid("json");
      const db = deps.db.forClient(p.clientId);
      let row = await find(p.clientId, ref);
      if (!row) {
        const r = parseContactRef(ref)!;
        // an id names a contact that exists; only a number or user id can create one
        if ("id" in r) throw notFound("Contact");
        const created = await db.from("contacts").upsert(
          { client_id: p.clientId, ...("waId" in r ? { wa_id: r.waId } : { user_id: r.userId }) },
          {
            onConflict: "waId" in r ? "client_id,wa_id" : "client_id,user_id",
            ignoreDuplicates: true,
          },
        );
        if (created.error) {
          throw new DatabaseError("Could not create the contact", created.error);
        }
        row = await find(p.clientId, ref);
      }
      const now = new Date(deps.now()).toISOString();
      const updated = await db.from("contacts").update({
        consent_status: body.status,
        consent_source: body.source,
        consent_updated_at: now,
      }).eq("id", row!.id).select(COLUMNS).single();
      if (updated.error) throw new DatabaseError("Could not record consent", updated.error);
      const event = await db.from("consent_events").insert({
        client_id: p.clientId,
        contact_id: row!.id,
        status: body.status,
        source: body.source,
        actor: p.actor,
      });
      if (event.error) {
        throw new DatabaseError("Could not record the consent event", event.error);
      }
      await audit(db, {
        clientId: p.clientId,
        actor: p.actor,
        action: `contact.${body.status}`,
        targetType: "contact",
        targetId: row!.id,
        details: { source: body.source },
        requestId: c.get("requestId"),
      });
      return c.json({ contact: await view(p.clientId, updated.data as Row) }, 200);
    });
}
