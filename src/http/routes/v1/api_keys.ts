import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AuditLog } from "../../../ports/audit.ts";
import type { ApiKeyStore } from "../../../ports/clients.ts";
import { MAX_KEY_LIFETIME_YEARS, SCOPES } from "../../../core/auth/api_keys.ts";
import { forbidden, notFound } from "../../../core/errors.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  IdParams,
  IsoTime,
  label,
  notFoundResponse,
} from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const ApiKeySchema = z.object({
  id: z.uuid(),
  name: z.string(),
  environment: z.enum(["live", "test"]),
  prefix: z.string().openapi({ description: "First characters of the key, to tell keys apart" }),
  scopes: z.array(z.enum(SCOPES)),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
}).openapi("ApiKey");

const CreateApiKeySchema = z.object({
  name: label(100),
  environment: z.enum(["live", "test"]).default("live"),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length)
    .openapi({ example: ["messages:send", "messages:read"] }),
  expires_at: IsoTime.nullable().optional().openapi({
    description:
      `When the key stops working: at least a minute from now and within ${MAX_KEY_LIFETIME_YEARS} years; omit for no expiry`,
  }),
}).openapi("CreateApiKey");

const manage = access("api-keys:manage");

const list = createRoute({
  method: "get",
  path: "/api-keys",
  operationId: "listApiKeys",
  tags: ["API keys"],
  summary: "List this client's API keys (never the keys themselves)",
  ...manage,
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ data: z.array(ApiKeySchema) }) } },
      description: "The keys",
    },
    ...AUTH_ERRORS,
  },
});

const create = createRoute({
  method: "post",
  path: "/api-keys",
  operationId: "createApiKey",
  tags: ["API keys"],
  summary: "Create an API key; the key is shown in this response only",
  ...manage,
  request: {
    body: { content: { "application/json": { schema: CreateApiKeySchema } }, required: true },
  },
  responses: {
    201: {
      content: {
        "application/json": {
          schema: z.object({ key: z.string(), api_key: ApiKeySchema }),
        },
      },
      description: "Created. Store `key` now: it cannot be shown again",
    },
    ...AUTH_ERRORS,
    ...BODY_ERRORS,
  },
});

const revoke = createRoute({
  method: "delete",
  path: "/api-keys/{id}",
  operationId: "revokeApiKey",
  tags: ["API keys"],
  summary: "Revoke an API key at once",
  ...manage,
  request: { params: IdParams },
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ api_key: ApiKeySchema }) } },
      description: "Revoked",
    },
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

export function apiKeyRoutes(
  deps: { apiKeys: ApiKeyStore; audit: AuditLog; onRevoke(): void; now?: () => number },
) {
  const now = deps.now ?? Date.now;
  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => {
      const p = c.get("principal");
      return c.json({ data: await deps.apiKeys.list(p.clientId) }, 200);
    })
    .openapi(create, async (c) => {
      const p = c.get("principal");
      const body = c.req.valid("json");
      // a key can never grant more than the credential that creates it
      const extra = body.scopes.filter((s) => !p.scopes.has(s));
      if (extra.length) {
        throw forbidden(`You cannot grant scopes you do not hold: ${extra.join(", ")}`);
      }
      const { key, record } = await deps.apiKeys.create(p.clientId, {
        name: body.name,
        environment: body.environment,
        scopes: [...new Set(body.scopes)],
        expiresAt: body.expires_at ?? null,
        createdBy: p.actor,
      }, now());
      await deps.audit.record({
        clientId: p.clientId,
        actor: p.actor,
        action: "api_key.created",
        targetType: "api_key",
        targetId: record.id,
        details: { scopes: record.scopes, environment: record.environment },
        requestId: c.get("requestId"),
      });
      return c.json({ key, api_key: record }, 201);
    })
    .openapi(revoke, async (c) => {
      const p = c.get("principal");
      const record = await deps.apiKeys.revoke(p.clientId, c.req.valid("param").id);
      if (!record) throw notFound("Active API key");
      deps.onRevoke();
      await deps.audit.record({
        clientId: p.clientId,
        actor: p.actor,
        action: "api_key.revoked",
        targetType: "api_key",
        targetId: record.id,
        requestId: c.get("requestId"),
      });
      return c.json({ api_key: record }, 200);
    });
}
