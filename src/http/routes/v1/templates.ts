import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "../../../config/env.ts";
import { signedTokens } from "../../../core/crypto/signed_token.ts";
import { AppError } from "../../../core/errors.ts";
import { isUuid } from "../../../core/ids.ts";
import {
  META_ID,
  STORED_LANGUAGE,
  TEMPLATE_CATEGORIES,
  TEMPLATE_LANGUAGE,
  TEMPLATE_NAME,
  TEMPLATE_STATUSES,
  templateDefinitionProblems,
} from "../../../core/whatsapp/templates.ts";
import type { TemplateService } from "../../../services/templates.ts";
import { access } from "../../openapi.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  IdParams,
  Limit,
  notFoundResponse,
  text,
} from "../../schemas.ts";
import type { AppEnv } from "../../types.ts";

const WabaId = z.string().regex(META_ID).openapi({
  description: "Meta's id of the WhatsApp Business account; needed when the client has several",
  example: "102290129340398",
});

export const TemplateSchema = z.object({
  id: z.uuid(),
  waba_id: z.string(),
  meta_template_id: z.string().openapi({ description: "Meta's id of the template" }),
  name: z.string(),
  language: z.string(),
  category: z.string().nullable().openapi({ example: "UTILITY" }),
  status: z.string().openapi({
    description: `As Meta reports it: ${TEMPLATE_STATUSES.join(", ")}`,
    example: "APPROVED",
  }),
  quality_score: z.string().nullable().openapi({ example: "GREEN" }),
  parameter_format: z.enum(["POSITIONAL", "NAMED"]),
  components: z.array(z.unknown()).nullable().openapi({
    description: "Meta's component definitions; null while the template is known only from a " +
      "webhook (until the sync that follows)",
  }),
  rejected_reason: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Template");

// ---------------------------------------------------------------------------- creation schemas
// Meta's shapes, every string storable, no key Meta does not document for these components: what
// is accepted here is exactly what goes to Meta and into the store.

const Example = text(1024).min(1);
const NamedExamples = z.array(
  z.strictObject({ param_name: z.string().regex(/^[a-z_][a-z0-9_]{0,99}$/), example: Example }),
).min(1).max(100);

const Header = z.strictObject({
  type: z.literal("HEADER"),
  format: z.enum(["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]),
  text: text(60).optional(),
  example: z.strictObject({
    header_text: z.array(Example).max(1).optional(),
    header_text_named_params: NamedExamples.optional(),
    header_handle: z.array(text(2048).min(1)).max(1).optional(),
  }).optional(),
});
const Body = z.strictObject({
  type: z.literal("BODY"),
  text: text(1024).optional(),
  add_security_recommendation: z.boolean().optional(),
  example: z.strictObject({
    body_text: z.array(z.array(Example).max(100)).max(1).optional(),
    body_text_named_params: NamedExamples.optional(),
  }).optional(),
});
const Footer = z.strictObject({
  type: z.literal("FOOTER"),
  text: text(60).optional(),
  code_expiration_minutes: z.int().min(1).max(90).optional(),
});
const Button = z.strictObject({
  type: z.enum(["QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP"]),
  text: text(25).optional(),
  url: text(2000).optional(),
  phone_number: z.string().max(20).optional(),
  example: z.union([z.array(text(2000).min(1)).max(1), text(15)]).optional(),
  otp_type: z.enum(["COPY_CODE", "ONE_TAP", "ZERO_TAP"]).optional(),
});
const Buttons = z.strictObject({
  type: z.literal("BUTTONS"),
  buttons: z.array(Button).min(1).max(10),
});

const NewTemplateSchema = z.object({
  waba_id: WabaId.optional(),
  name: z.string().regex(TEMPLATE_NAME).openapi({
    description: "Lowercase letters, digits and underscores, at most 512 characters",
    example: "order_update",
  }),
  language: z.string().regex(TEMPLATE_LANGUAGE).openapi({
    description: "Meta's language code: en, en_US, pt_BR, …",
    example: "en_US",
  }),
  category: z.enum(TEMPLATE_CATEGORIES),
  parameter_format: z.enum(["POSITIONAL", "NAMED"]).optional().openapi({
    description: "POSITIONAL ({{1}}, {{2}}, …; the default) or NAMED ({{first_name}})",
  }),
  components: z.array(z.discriminatedUnion("type", [Header, Body, Footer, Buttons])).min(1).max(4),
}).superRefine((def, ctx) => {
  for (const p of templateDefinitionProblems(def)) {
    ctx.addIssue({
      code: "custom",
      path: p.path.split(".").map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
      message: p.message,
    });
  }
}).openapi("NewTemplate", {
  example: {
    name: "order_update",
    language: "en_US",
    category: "UTILITY",
    components: [{
      type: "BODY",
      text: "Hi {{1}}, your order {{2}} has shipped.",
      example: { body_text: [["Ana", "#1001"]] },
    }],
  },
});

const SyncReportSchema = z.object({
  waba_id: z.string(),
  performed: z.boolean().openapi({
    description: "false: another sync of this account is under way, or one ran within the " +
      "minimum interval (TEMPLATE_SYNC_MIN_INTERVAL_SECONDS)",
  }),
  pages: z.number().int(),
  found: z.number().int(),
  inserted: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  deleted: z.number().int(),
  skipped: z.number().int(),
  error: z.string().nullable(),
  last_synced_at: z.string().nullable(),
}).openapi("TemplateSyncReport");

// ---------------------------------------------------------------------------------- routes

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const tags = ["Templates"];

const list = createRoute({
  method: "get",
  path: "/templates",
  operationId: "listTemplates",
  tags,
  summary: "List the client's message templates, by name and language, with cursor pagination",
  description: "The store is kept in step with Meta: a full sync when an account is connected, " +
    "on request and on a schedule, and Meta's template webhooks in between.",
  ...access("templates:read"),
  request: {
    query: z.object({
      status: z.enum(TEMPLATE_STATUSES).optional(),
      category: z.enum(TEMPLATE_CATEGORIES).optional(),
      language: z.string().regex(STORED_LANGUAGE).optional().openapi({ example: "en_US" }),
      name: z.string().regex(TEMPLATE_NAME).optional().openapi({ description: "exact name" }),
      waba_id: WabaId.optional(),
      limit: Limit,
      cursor: z.string().max(1024).optional().openapi({
        description: "next_cursor from the previous page (opaque; only this API issues them)",
      }),
    }),
  },
  responses: {
    200: json(
      z.object({ data: z.array(TemplateSchema), next_cursor: z.string().nullable() }),
      "A page",
    ),
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_cursor"),
  },
});

const get = createRoute({
  method: "get",
  path: "/templates/{id}",
  operationId: "getTemplate",
  tags,
  summary: "One template, with its components",
  ...access("templates:read"),
  request: { params: IdParams },
  responses: {
    200: json(z.object({ template: TemplateSchema }), "The template"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const create = createRoute({
  method: "post",
  path: "/templates",
  operationId: "createTemplate",
  tags,
  summary: "Create a template and submit it to Meta for review",
  description: "Checked against Meta's documented rules before Meta is called (a 400 names each " +
    "broken rule): one BODY of at most 1,024 characters, at most one HEADER (text of 60 " +
    "characters with one variable at most, or media with example.header_handle), a FOOTER of " +
    "60 characters without variables, at most 10 buttons (2 URL, 1 phone number, 1 copy code; " +
    "quick replies grouped together), variables numbered from {{1}} without gaps (or names with " +
    "parameter_format NAMED), none at the very start or end of the body nor side by side, each " +
    "with an example. The template is stored as Meta answers, normally PENDING; its approval or " +
    "rejection arrives by webhook and is sent to the client's endpoints as `template.status`.",
  ...access("templates:manage"),
  request: {
    body: { content: { "application/json": { schema: NewTemplateSchema } }, required: true },
  },
  responses: {
    201: json(z.object({ template: TemplateSchema }), "Submitted; usually PENDING"),
    409: errorResponse("template_exists"),
    422: errorResponse("unknown_waba", "waba_required", "no_access_token"),
    502: errorResponse("graph_error"),
    ...AUTH_ERRORS,
    ...BODY_ERRORS,
  },
});

const remove = createRoute({
  method: "delete",
  path: "/templates/{id}",
  operationId: "deleteTemplate",
  tags,
  summary: "Delete a template (this language of its name) at Meta and here",
  ...access("templates:manage"),
  request: { params: IdParams },
  responses: {
    200: json(z.object({ deleted: z.literal(true) }), "Deleted"),
    404: notFoundResponse,
    422: errorResponse("no_access_token"),
    502: errorResponse("graph_error"),
    ...AUTH_ERRORS,
  },
});

const sync = createRoute({
  method: "post",
  path: "/templates/sync",
  operationId: "syncTemplates",
  tags,
  summary: "Read every page of Meta's template list now, for each account (or the one named)",
  description: "At most one sync per account per TEMPLATE_SYNC_MIN_INTERVAL_SECONDS (60 s by " +
    "default), whoever asks: within it the report says `performed: false`. A listing that fails " +
    "part way deletes nothing (the pages it read are kept) and reports the error.",
  ...access("templates:manage"),
  request: { query: z.object({ waba_id: WabaId.optional() }) },
  responses: {
    200: json(z.object({ data: z.array(SyncReportSchema) }), "One report per account"),
    422: errorResponse("unknown_waba"),
    ...AUTH_ERRORS,
  },
});

const CURSOR_PART = { name: TEMPLATE_NAME, language: STORED_LANGUAGE };

export function templateRoutes(
  deps: { env: Pick<Env, "API_KEY_PEPPER">; templates: TemplateService },
) {
  // signed with a key derived from the pepper, as the messages list's: a cursor is opaque, so a
  // client cannot steer the filter it becomes
  const cursors = signedTokens(deps.env.API_KEY_PEPPER, "templates list cursor");
  const encodeCursor = (clientId: string, row: { name: string; language: string; id: string }) =>
    cursors.sign(`templates:${clientId}`, `${row.name}|${row.language}|${row.id}`);
  const decodeCursor = async (clientId: string, cursor: string) => {
    const payload = await cursors.open(`templates:${clientId}`, cursor);
    const [name, language, id, ...rest] = payload?.split("|") ?? [];
    if (
      !rest.length && CURSOR_PART.name.test(name ?? "") &&
      CURSOR_PART.language.test(language ?? "") && isUuid(id ?? "")
    ) {
      return { name, language, id };
    }
    throw new AppError(400, "invalid_cursor", "The cursor is not one this API returned");
  };
  const who = (c: { get(key: "principal"): { actor: string }; get(key: "requestId"): string }) => ({
    actor: c.get("principal").actor,
    requestId: c.get("requestId"),
  });

  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => {
      const clientId = c.get("principal").clientId;
      const q = c.req.valid("query");
      const rows = await deps.templates.list(clientId, {
        status: q.status,
        category: q.category,
        language: q.language,
        name: q.name,
        wabaId: q.waba_id,
        after: q.cursor ? await decodeCursor(clientId, q.cursor) : undefined,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      const next = rows.length > q.limit
        ? await encodeCursor(clientId, page[page.length - 1])
        : null;
      return c.json({ data: page, next_cursor: next }, 200);
    })
    .openapi(get, async (c) => {
      const template = await deps.templates.get(
        c.get("principal").clientId,
        c.req.valid("param").id,
      );
      return c.json({ template }, 200);
    })
    .openapi(create, async (c) => {
      const template = await deps.templates.create(
        c.get("principal").clientId,
        c.req.valid("json"),
        who(c),
      );
      return c.json({ template }, 201);
    })
    .openapi(remove, async (c) => {
      await deps.templates.remove(c.get("principal").clientId, c.req.valid("param").id, who(c));
      return c.json({ deleted: true as const }, 200);
    })
    .openapi(sync, async (c) => {
      const reports = await deps.templates.sync(c.get("principal").clientId, {
        wabaId: c.req.valid("query").waba_id,
      });
      return c.json({ data: reports }, 200);
    });
}
