import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ServiceDeps } from "../../../services/deps.ts";
import { AUTH_ERRORS, Limit } from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const AccountEventSchema = z.object({
  id: z.number().int(),
  waba_id: z.string().nullable(),
  phone_number_id: z.string().nullable(),
  field: z.string().openapi({ example: "message_template_status_update" }),
  value: z.unknown(),
  received_at: z.string(),
}).openapi("AccountEvent");

const route = createRoute({
  method: "get",
  path: "/account-events",
  operationId: "listAccountEvents",
  tags: ["Account"],
  summary: "WhatsApp account notifications: template status, account and quality updates, …",
  description:
    "Every Meta webhook field other than messages, as received, newest first. Filter with " +
    "`field` (for example `message_template_status_update`, `phone_number_quality_update`).",
  ...access("messages:read"),
  request: {
    query: z.object({
      // Meta's webhook field names are snake_case words
      field: z.string().regex(/^[a-z0-9_]{1,100}$/).optional(),
      limit: Limit,
      // ids are positive bigints; beyond 2^53 they would not survive JSON anyway
      before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().openapi({
        description: "id from the last page",
      }),
    }),
  },
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ data: z.array(AccountEventSchema) }) } },
      description: "Events",
    },
    ...AUTH_ERRORS,
  },
});

export function accountEventRoutes(deps: Pick<ServiceDeps, "accounts">) {
  return new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
    const p = c.get("principal");
    const data = await deps.accounts.events(p.clientId, c.req.valid("query"));
    return c.json({ data: data as Array<z.infer<typeof AccountEventSchema>> }, 200);
  });
}
