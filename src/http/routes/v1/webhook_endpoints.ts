import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { audit } from "../../../adapters/supabase/audit.ts";
import { encryptField } from "../../../core/crypto/envelope.ts";
import { AppError, notFound } from "../../../core/errors.ts";
import { checkWebhookUrl } from "../../../core/webhooks/ssrf_guard.ts";
import { generateWebhookSecret } from "../../../core/webhooks/standard_webhooks.ts";
import { type ClientWebhooks, WEBHOOK_EVENT_TYPES } from "../../../services/client_webhooks.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import { requireScope } from "../../middleware/auth.ts";
import { AUTH_ERRORS, notFoundResponse } from "../../schemas.ts";
import type { AppEnv } from "../../types.ts";

const COLUMNS =
  "id, url, description, event_types, enabled, disabled_reason, disabled_at, failing_since, consecutive_failures, created_at, updated_at";

const EndpointSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  description: z.string().nullable(),
  event_types: z.array(z.string()).openapi({ description: "Empty: every event type" }),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable(),
  disabled_at: z.string().nullable(),
  failing_since: z.string().nullable(),
  consecutive_failures: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("WebhookEndpoint");

const DeliverySchema = z.object({
  id: z.uuid(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(["pending", "succeeded", "failed", "cancelled"]),
  attempts: z.number().int(),
  next_attempt_at: z.string(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
}).openapi("WebhookDelivery");

const EventTypes = z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length);
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const security = [{ bearer: [] }];
const mw = requireScope("webhooks:manage");
const idParam = z.object({ id: z.uuid() });
const tags = ["Webhook endpoints"];

const create = createRoute({
  method: "post",
  path: "/webhook-endpoints",
  tags,
  summary: "Register an endpoint; its signing secret is shown once",
  description: "Events are POSTed as JSON `{type, timestamp, data}` signed per Standard Webhooks " +
    "(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), retried " +
    "with backoff for about a day and a half, and the endpoint is disabled after 5 days of failures.",
  security,
  middleware: mw,
  request: {
    body: {
      content: {
        "application/json": {
          schema: z.object({
            url: z.string().max(2048).openapi({
              example: "https://shop.example.com/hooks/whatsapp",
            }),
            description: z.string().max(200).optional(),
            event_types: EventTypes.default([]),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    201: json(
      z.object({ endpoint: EndpointSchema, secret: z.string() }),
      "Created; store `secret` now",
    ),
    ...AUTH_ERRORS,
  },
});
const list = createRoute({
  method: "get",
  path: "/webhook-endpoints",
  tags,
  summary: "List endpoints",
  security,
  middleware: mw,
  responses: {
    200: json(z.object({ data: z.array(EndpointSchema) }), "Endpoints"),
    ...AUTH_ERRORS,
  },
});
const get = createRoute({
  method: "get",
  path: "/webhook-endpoints/{id}",
  tags,
  summary: "One endpoint",
  security,
  middleware: mw,
  request: { params: idParam },
  responses: {
    200: json(z.object({ endpoint: EndpointSchema }), "The endpoint"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});
const update = createRoute({
  method: "patch",
  path: "/webhook-endpoints/{id}",
  tags,
  summary: "Change an endpoint; re-enabling clears its failure record",
  security,
  middleware: mw,
  request: {
    params: idParam,
    body: {
      content: {
        "application/json": {
          schema: z.object({
            url: z.string().max(2048).optional(),
            description: z.string().max(200).nullable().optional(),
            event_types: EventTypes.optional(),
            enabled: z.boolean().optional(),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    200: json(z.object({ endpoint: EndpointSchema }), "Updated"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});
const remove = createRoute({
  method: "delete",
  path: "/webhook-endpoints/{id}",
  tags,
  summary: "Delete an endpoint (pending deliveries go with it)",
  security,
  middleware: mw,
  request: { params: idParam },
  responses: {
    200: json(z.object({ deleted: z.literal(true) }), "Deleted"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});
const rotate = createRoute({
  method: "post",
  path: "/webhook-endpoints/{id}/rotate-secret",
  tags,
  summary: "Replace the signing secret; the new one is shown once",
  security,
  middleware: mw,
  request: { params: idParam },
  responses: {
    200: json(z.object({ secret: z.string() }), "Rotated"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});
const deliveries = createRoute({
  method: "get",
  path: "/webhook-endpoints/{id}/deliveries",
  tags,
  summary: "Recent deliveries to an endpoint (never their payloads)",
  security,
  middleware: mw,
  request: {
    params: idParam,
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
  },
  responses: {
    200: json(z.object({ data: z.array(DeliverySchema) }), "Deliveries"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});
const test = createRoute({
  method: "post",
  path: "/webhook-endpoints/{id}/test",
  tags,
  summary: "Send a `webhook.test` event to this endpoint now",
  security,
  middleware: mw,
  request: { params: idParam },
  responses: {
    202: json(z.object({ delivery_id: z.uuid() }), "Queued"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

export function webhookEndpointRoutes(
  deps: Pick<ServiceDeps, "db" | "dataKeys" | "doorbell" | "env">,
  webhooks: ClientWebhooks,
) {
  const allowPrivate = deps.env.ENVIRONMENT !== "production";
  const checkUrl = (url: string) => {
    const verdict = checkWebhookUrl(url, { allowPrivate });
    if (!verdict.ok) {
      throw new AppError(400, "invalid_webhook_url", `The webhook URL ${verdict.reason}`);
    }
  };
  const find = async (clientId: string, id: string) => {
    const { data, error } = await deps.db.forClient(clientId).from("webhook_endpoints").select(
      COLUMNS,
    )
      .eq("id", id).maybeSingle();
    if (error) throw new Error(`Could not read the endpoint: ${error.message}`);
    if (!data) throw notFound("Webhook endpoint");
    return data as z.infer<typeof EndpointSchema>;
  };
  const auditFor = (
    c: { get(k: "principal"): { clientId: string; actor: string }; get(k: "requestId"): string },
    action: string,
    id: string,
  ) =>
    audit(deps.db.forClient(c.get("principal").clientId), {
      clientId: c.get("principal").clientId,
      actor: c.get("principal").actor,
      action,
      targetType: "webhook_endpoint",
      targetId: id,
      requestId: c.get("requestId"),
    });

  return new OpenAPIHono<AppEnv>()
    .openapi(create, async (c) => {
      const p = c.get("principal");
      const body = c.req.valid("json");
      checkUrl(body.url);
      const id = crypto.randomUUID();
      const secret = generateWebhookSecret();
      const key = await deps.dataKeys.forClient(p.clientId);
      const { data, error } = await deps.db.forClient(p.clientId).from("webhook_endpoints").insert({
        id,
        client_id: p.clientId,
        url: body.url,
        description: body.description ?? null,
        event_types: body.event_types,
        secret_ciphertext: await encryptField(key, secret, `webhook_secret:${id}`),
      }).select(COLUMNS).single();
      if (error) throw new Error(`Could not create the endpoint: ${error.message}`);
      webhooks.forget(p.clientId);
      await auditFor(c, "webhook_endpoint.created", id);
      return c.json({ endpoint: data as z.infer<typeof EndpointSchema>, secret }, 201);
    })
    .openapi(list, async (c) => {
      const p = c.get("principal");
      const { data, error } = await deps.db.forClient(p.clientId).from("webhook_endpoints").select(
        COLUMNS,
      )
        .order("created_at");
      if (error) throw new Error(`Could not list endpoints: ${error.message}`);
      return c.json({ data: data as Array<z.infer<typeof EndpointSchema>> }, 200);
    })
    .openapi(
      get,
      async (c) =>
        c.json({ endpoint: await find(c.get("principal").clientId, c.req.valid("param").id) }, 200),
    )
    .openapi(update, async (c) => {
      const p = c.get("principal");
      const id = c.req.valid("param").id;
      const body = c.req.valid("json");
      await find(p.clientId, id);
      if (body.url !== undefined) checkUrl(body.url);
      const { data, error } = await deps.db.forClient(p.clientId).from("webhook_endpoints").update({
        ...body,
        ...(body.enabled === true
          ? {
            disabled_reason: null,
            disabled_at: null,
            failing_since: null,
            consecutive_failures: 0,
          }
          : {}),
        ...(body.enabled === false
          ? { disabled_reason: "Disabled by the client", disabled_at: new Date().toISOString() }
          : {}),
      }).eq("id", id).select(COLUMNS).single();
      if (error) throw new Error(`Could not update the endpoint: ${error.message}`);
      webhooks.forget(p.clientId);
      await auditFor(c, "webhook_endpoint.updated", id);
      return c.json({ endpoint: data as z.infer<typeof EndpointSchema> }, 200);
    })
    .openapi(remove, async (c) => {
      const p = c.get("principal");
      const id = c.req.valid("param").id;
      await find(p.clientId, id);
      const { error } = await deps.db.forClient(p.clientId).from("webhook_endpoints").delete().eq(
        "id",
        id,
      );
      if (error) throw new Error(`Could not delete the endpoint: ${error.message}`);
      webhooks.forget(p.clientId);
      await auditFor(c, "webhook_endpoint.deleted", id);
      return c.json({ deleted: true as const }, 200);
    })
    .openapi(rotate, async (c) => {
      const p = c.get("principal");
      const id = c.req.valid("param").id;
      await find(p.clientId, id);
      const secret = generateWebhookSecret();
      const key = await deps.dataKeys.forClient(p.clientId);
      const { error } = await deps.db.forClient(p.clientId).from("webhook_endpoints")
        .update({ secret_ciphertext: await encryptField(key, secret, `webhook_secret:${id}`) }).eq(
          "id",
          id,
        );
      if (error) throw new Error(`Could not rotate the secret: ${error.message}`);
      await auditFor(c, "webhook_endpoint.secret_rotated", id);
      return c.json({ secret }, 200);
    })
    .openapi(deliveries, async (c) => {
      const p = c.get("principal");
      const id = c.req.valid("param").id;
      await find(p.clientId, id);
      const { data, error } = await deps.db.forClient(p.clientId).from("webhook_deliveries")
        .select(
          "id, event_id, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at",
        )
        .eq("endpoint_id", id).order("created_at", { ascending: false }).limit(
          c.req.valid("query").limit,
        );
      if (error) throw new Error(`Could not list deliveries: ${error.message}`);
      return c.json({ data: data as Array<z.infer<typeof DeliverySchema>> }, 200);
    })
    .openapi(test, async (c) => {
      const p = c.get("principal");
      const id = c.req.valid("param").id;
      await find(p.clientId, id);
      const jobs = await webhooks.sendTest(p.clientId, id);
      await deps.doorbell.ring(jobs);
      return c.json({ delivery_id: (jobs[0] as { deliveryId: string }).deliveryId }, 202);
    });
}
