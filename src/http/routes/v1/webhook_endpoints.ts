import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { encryptField } from "../../../core/crypto/envelope.ts";
import { AppError, notFound } from "../../../core/errors.ts";
import { generateWebhookSecret } from "../../../core/webhooks/standard_webhooks.ts";
import {
  type ClientWebhooks,
  MAX_WEBHOOK_ENDPOINTS,
  WEBHOOK_EVENT_TYPES,
} from "../../../services/client_webhooks.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import {
  AUTH_ERRORS,
  BODY_ERRORS,
  errorResponse,
  IdParams,
  IsoTime,
  Limit,
  notFoundResponse,
  text,
} from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv, Principal } from "../../types.ts";

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

const EventTypes = z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length)
  .openapi({ description: "Event types to receive; empty: every type" });
const Url = text(2048).openapi({
  description: "In production: https on port 443 or 8443, to a host whose every address is public",
  example: "https://shop.example.com/hooks/whatsapp",
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});
const manage = access("webhooks:manage");
const params = IdParams;
const tags = ["Webhook endpoints"];

const create = createRoute({
  method: "post",
  path: "/webhook-endpoints",
  operationId: "createWebhookEndpoint",
  tags,
  summary: "Register an endpoint; its signing secret is shown once",
  description: "Events are POSTed as JSON `{type, timestamp, data}` signed per Standard Webhooks " +
    "(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`). A non-2xx " +
    "answer, a redirect or a timeout (10 s) is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h " +
    "and 10 h (±20%), with the same `webhook-id`. An endpoint is disabled when it answers 410, " +
    "fails for 5 days, or fails 50 times in a row over at least a day. A URL refused by the " +
    `address rules answers 400 \`invalid_webhook_url\`. A client has at most ${MAX_WEBHOOK_ENDPOINTS} ` +
    "endpoints (409 `webhook_endpoint_limit`).",
  ...manage,
  request: {
    ...body(z.object({
      url: Url,
      description: text(200).optional(),
      event_types: EventTypes.default([]),
    })),
  },
  responses: {
    201: json(
      z.object({ endpoint: EndpointSchema, secret: z.string() }),
      "Created. Store `secret` now: it cannot be shown again",
    ),
    409: errorResponse("webhook_endpoint_limit"),
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_webhook_url"),
    ...BODY_ERRORS,
  },
});

const list = createRoute({
  method: "get",
  path: "/webhook-endpoints",
  operationId: "listWebhookEndpoints",
  tags,
  summary: "List this client's endpoints (never their secrets)",
  ...manage,
  responses: {
    200: json(z.object({ data: z.array(EndpointSchema) }), "The endpoints"),
    ...AUTH_ERRORS,
  },
});

const get = createRoute({
  method: "get",
  path: "/webhook-endpoints/{id}",
  operationId: "getWebhookEndpoint",
  tags,
  summary: "One endpoint",
  ...manage,
  request: { params },
  responses: {
    200: json(z.object({ endpoint: EndpointSchema }), "The endpoint"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const update = createRoute({
  method: "patch",
  path: "/webhook-endpoints/{id}",
  operationId: "updateWebhookEndpoint",
  tags,
  summary: "Change an endpoint; re-enabling it clears its failure record",
  ...manage,
  request: {
    params,
    ...body(z.object({
      url: Url.optional(),
      description: text(200).nullable().optional(),
      event_types: EventTypes.optional(),
      enabled: z.boolean().optional(),
    })),
  },
  responses: {
    200: json(z.object({ endpoint: EndpointSchema }), "Updated"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
    400: errorResponse("invalid_request", "invalid_webhook_url"),
    ...BODY_ERRORS,
  },
});

const remove = createRoute({
  method: "delete",
  path: "/webhook-endpoints/{id}",
  operationId: "deleteWebhookEndpoint",
  tags,
  summary: "Delete an endpoint and its pending deliveries",
  ...manage,
  request: { params },
  responses: {
    200: json(z.object({ deleted: z.literal(true) }), "Deleted"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const rotate = createRoute({
  method: "post",
  path: "/webhook-endpoints/{id}/rotate-secret",
  operationId: "rotateWebhookEndpointSecret",
  tags,
  summary: "Replace the signing secret at once; the new one is shown once",
  ...manage,
  request: { params },
  responses: {
    200: json(z.object({ secret: z.string() }), "Rotated. Store `secret` now"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const deliveries = createRoute({
  method: "get",
  path: "/webhook-endpoints/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  summary: "Recent deliveries to an endpoint, newest first (never their payloads)",
  ...manage,
  request: {
    params,
    query: z.object({ limit: Limit }),
  },
  responses: {
    200: json(z.object({ data: z.array(DeliverySchema) }), "The deliveries"),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

const test = createRoute({
  method: "post",
  path: "/webhook-endpoints/{id}/test",
  operationId: "testWebhookEndpoint",
  tags,
  summary: "Send a `webhook.test` event to this endpoint only, now",
  ...manage,
  request: { params },
  responses: {
    202: json(z.object({ delivery_id: z.uuid() }), "Queued; see its deliveries for the outcome"),
    404: notFoundResponse,
    409: errorResponse("webhook_endpoint_disabled"),
    ...AUTH_ERRORS,
  },
});

/** at most this many deliveries are put back per call; call again for the rest */
const RECOVER_MAX = 1000;

const recover = createRoute({
  method: "post",
  path: "/webhook-endpoints/{id}/recover",
  operationId: "recoverWebhookDeliveries",
  tags,
  summary: "Send again the deliveries that failed or were cancelled since a time",
  description:
    "After fixing (and re-enabling) an endpoint: its failed and cancelled deliveries created at " +
    "or after `since` go back to pending and are sent again now, oldest first, up to " +
    `${RECOVER_MAX} per call (\`recovered\` says how many; call again while it is ${RECOVER_MAX}). ` +
    "Each continues its retry schedule where it stopped: one that had used every attempt gets " +
    "one more. Deliveries are kept 30 days.",
  ...manage,
  request: {
    params,
    ...body(z.object({
      since: IsoTime,
    })),
  },
  responses: {
    202: json(
      z.object({ recovered: z.number().int(), delivery_ids: z.array(z.uuid()) }),
      "Queued again; see the endpoint's deliveries for the outcome",
    ),
    404: notFoundResponse,
    409: errorResponse("webhook_endpoint_disabled"),
    ...AUTH_ERRORS,
    ...BODY_ERRORS,
  },
});

export function webhookEndpointRoutes(
  deps: Pick<ServiceDeps, "webhookEndpoints" | "audit" | "dataKeys" | "doorbell">,
  webhooks: ClientWebhooks,
) {
  const checkUrl = async (url: string) => {
    const verdict = await webhooks.checkUrl(url);
    if (!verdict.ok) {
      throw new AppError(400, "invalid_webhook_url", `The webhook URL ${verdict.reason}`);
    }
  };
  const found = <T>(record: T | null): T => {
    if (!record) throw notFound("Webhook endpoint");
    return record;
  };
  /** 409 for a disabled endpoint: nothing is sent to it until it is re-enabled */
  const enabled = (endpoint: { enabled: boolean; disabled_reason: string | null }) => {
    if (!endpoint.enabled) {
      throw new AppError(
        409,
        "webhook_endpoint_disabled",
        `The webhook endpoint is disabled (${
          endpoint.disabled_reason ?? "by request"
        }); re-enable it with PATCH {"enabled": true} first`,
      );
    }
  };
  const encryptSecret = async (clientId: string, endpointId: string, secret: string) =>
    encryptField(await deps.dataKeys.forClient(clientId), secret, `webhook_secret:${endpointId}`);
  const recordAudit = (
    c: { get(key: "principal"): Principal; get(key: "requestId"): string },
    action: string,
    endpointId: string,
    details?: Record<string, unknown>,
  ) => {
    const p = c.get("principal");
    return deps.audit.record({
      clientId: p.clientId,
      actor: p.actor,
      action,
      targetType: "webhook_endpoint",
      targetId: endpointId,
      details,
      requestId: c.get("requestId"),
    });
  };

  const store = deps.webhookEndpoints;
  return new OpenAPIHono<AppEnv>()
    .openapi(create, async (c) => {
      const p = c.get("principal");
      const input = c.req.valid("json");
      await checkUrl(input.url);
      const id = crypto.randomUUID();
      const secret = generateWebhookSecret();
      const endpoint = await store.create(p.clientId, {
        id,
        url: input.url,
        description: input.description ?? null,
        eventTypes: [...new Set(input.event_types)],
        secretCiphertext: await encryptSecret(p.clientId, id, secret),
      });
      if (!endpoint) {
        throw new AppError(
          409,
          "webhook_endpoint_limit",
          `A client may have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first`,
        );
      }
      webhooks.forget(p.clientId);
      await recordAudit(c, "webhook_endpoint.created", id, { event_types: endpoint.event_types });
      return c.json({ endpoint, secret }, 201);
    })
    .openapi(list, async (c) => {
      return c.json({ data: await store.list(c.get("principal").clientId) }, 200);
    })
    .openapi(get, async (c) => {
      const clientId = c.get("principal").clientId;
      return c.json({ endpoint: found(await store.get(clientId, c.req.valid("param").id)) }, 200);
    })
    .openapi(update, async (c) => {
      const p = c.get("principal");
      const { id } = c.req.valid("param");
      const changes = c.req.valid("json");
      if (changes.url !== undefined) await checkUrl(changes.url);
      const endpoint = found(
        await store.update(p.clientId, id, {
          ...changes,
          ...(changes.event_types ? { event_types: [...new Set(changes.event_types)] } : {}),
        }),
      );
      webhooks.forget(p.clientId);
      await recordAudit(c, "webhook_endpoint.updated", id, { fields: Object.keys(changes) });
      return c.json({ endpoint }, 200);
    })
    .openapi(remove, async (c) => {
      const p = c.get("principal");
      const { id } = c.req.valid("param");
      if (!await store.remove(p.clientId, id)) {
        throw notFound("Webhook endpoint");
      }
      webhooks.forget(p.clientId);
      await recordAudit(c, "webhook_endpoint.deleted", id);
      return c.json({ deleted: true as const }, 200);
    })
    .openapi(rotate, async (c) => {
      const p = c.get("principal");
      const { id } = c.req.valid("param");
      const secret = generateWebhookSecret();
      found(
        await store.update(p.clientId, id, {
          secret_ciphertext: await encryptSecret(p.clientId, id, secret),
        }),
      );
      await recordAudit(c, "webhook_endpoint.secret_rotated", id);
      return c.json({ secret }, 200);
    })
    .openapi(deliveries, async (c) => {
      const clientId = c.get("principal").clientId;
      const { id } = c.req.valid("param");
      found(await store.get(clientId, id));
      return c.json(
        { data: await store.deliveries(clientId, id, c.req.valid("query").limit) },
        200,
      );
    })
    .openapi(test, async (c) => {
      const p = c.get("principal");
      const { id } = c.req.valid("param");
      enabled(found(await store.get(p.clientId, id)));
      const jobs = await webhooks.sendTest(p.clientId, id);
      await deps.doorbell.ring(jobs);
      const [job] = jobs as Array<{ deliveryId: string }>;
      return c.json({ delivery_id: job.deliveryId }, 202);
    })
    .openapi(recover, async (c) => {
      const p = c.get("principal");
      const { id } = c.req.valid("param");
      const { since } = c.req.valid("json");
      enabled(found(await store.get(p.clientId, id)));
      const ids = await store.recover(p.clientId, id, new Date(since), RECOVER_MAX);
      if (ids.length) {
        await deps.doorbell.ring(
          ids.map((deliveryId) => ({
            kind: "webhook_delivery" as const,
            clientId: p.clientId,
            deliveryId,
          })),
        );
      }
      await recordAudit(c, "webhook_endpoint.recovered", id, { since, count: ids.length });
      return c.json({ recovered: ids.length, delivery_ids: ids }, 202);
    });
}
