import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { Scope } from "../core/auth/api_keys.ts";
import { CLIENT_EVENT_SCHEMAS, type ClientEventType } from "../core/webhooks/client_events.ts";
import { WEBHOOK_HEADERS } from "../core/webhooks/standard_webhooks.ts";
import { WEBHOOK_EVENT_TYPES } from "../services/client_webhooks.ts";
import { requireScope } from "./middleware/auth.ts";
import { errorCodeTable } from "./schemas.ts";
import type { AppEnv } from "./types.ts";

/** The version of the `/v1` API the document describes (not of this software). */
export const API_VERSION = "1.0.0";

/** The one security scheme: an API key or a Supabase Auth access token, as a bearer token. */
const BEARER = "bearer";

/**
 * What a route needs from the credential, documented and enforced from one value: the
 * operation's `security` names the scope (OpenAPI 3.1 allows role names for non-OAuth schemes)
 * and the middleware refuses a credential without it, so the two cannot drift apart.
 */
export function access(scope: Scope) {
  return {
    security: [{ [BEARER]: [scope] }],
    middleware: [requireScope(scope)] as [MiddlewareHandler<AppEnv>],
  };
}

/** A route any valid credential may call, whatever its scopes. */
export const ANY_CREDENTIAL = { security: [{ [BEARER]: [] }] };

/** A route anyone may call (no credential). */
export const PUBLIC = { security: [] };

const TAGS = [
  { name: "Messages", description: "Send WhatsApp messages and read them with their timeline" },
  { name: "Contacts", description: "Consent and the 24-hour customer-service window" },
  {
    name: "Webhook endpoints",
    description: "Where the client webhooks (see `webhooks`) are sent, and how they fared",
  },
  {
    name: "Templates",
    description: "The WhatsApp message templates of the client's accounts, kept in step with Meta",
  },
  { name: "Account", description: "The client behind a credential, and WhatsApp account events" },
  { name: "API keys", description: "Create, list and revoke this client's API keys" },
  {
    name: "Plugins",
    description:
      "Integrations that react to events (opt-out keywords, …): configure them per client",
  },
  {
    name: "Privacy",
    description: "Data-subject requests (access, correction, deletion, consent withdrawal) " +
      "forwarded by the client, with their verification, deadline and outcome",
  },
  { name: "Operations", description: "Health of this deployment" },
  {
    name: "Client webhooks",
    description: "Events POSTed to the client's endpoints, signed per Standard Webhooks",
  },
];

const EVENTS: Record<ClientEventType, { operationId: string; summary: string }> = {
  "message.received": { operationId: "messageReceivedEvent", summary: "An inbound message" },
  "message.status": { operationId: "messageStatusEvent", summary: "A status of a sent message" },
  "account.alert": { operationId: "accountAlertEvent", summary: "The client must act" },
  "contact.consent_changed": {
    operationId: "contactConsentChangedEvent",
    summary: "A contact opted in or out",
  },
  "template.status": {
    operationId: "templateStatusEvent",
    summary: "A template was approved, rejected, paused, disabled or deleted",
  },
  "template.quality": {
    operationId: "templateQualityEvent",
    summary: "A template's quality score changed",
  },
  "webhook.test": { operationId: "webhookTestEvent", summary: "A test event" },
};

/** Standard Webhooks headers, sent with every event and every retry of it. */
const WebhookHeaders = z.object({
  [WEBHOOK_HEADERS.id]: z.string().openapi({
    description: "The event's id, the same on every retry: deduplicate on it",
    example: "evt_2f1c0f1e5b9a4d0c8e7a6b5c4d3e2f10",
  }),
  [WEBHOOK_HEADERS.timestamp]: z.string().regex(/^\d+$/).openapi({
    description: "Seconds since the Unix epoch when this attempt was signed; refuse old ones",
    example: "1764576000",
  }),
  [WEBHOOK_HEADERS.signature]: z.string().openapi({
    description:
      "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` under the " +
      "endpoint's secret (the bytes after `whsec_`, base64-decoded); several space-separated " +
      "signatures may appear. Compare in constant time",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

function registerWebhooks(app: OpenAPIHono<AppEnv>) {
  for (const type of WEBHOOK_EVENT_TYPES) {
    const schema = CLIENT_EVENT_SCHEMAS[type];
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      tags: ["Client webhooks"],
      ...EVENTS[type],
      description: `${schema.meta()?.description}. POSTed as JSON to each enabled endpoint ` +
        "subscribed to this type (or to every type). Verify the signature over the raw body " +
        "before parsing it; the TypeScript client's `verifyWebhook` does.",
      // the signature, not a credential, authenticates these requests (see the headers)
      security: [],
      request: {
        headers: WebhookHeaders,
        body: {
          content: { "application/json": { schema } },
          required: true,
          description: "The event",
        },
      },
      responses: {
        200: {
          description: "Any 2xx answer within 10 s: delivered. Anything else, a redirect or a " +
            "timeout is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±20 %)",
        },
        410: {
          description: "Gone: the endpoint is disabled at once and receives nothing more " +
            "until it is re-enabled",
        },
      },
    });
  }
}

/**
 * The scope each operation needs, stated in its description too: Swagger UI and most generated
 * docs do not show the role names of a bearer security requirement.
 */
function describeScopes(doc: { paths?: Record<string, Record<string, unknown>> }) {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item) as Array<Record<string, unknown>>) {
      const security = op.security as Array<Record<string, string[]>> | undefined;
      if (!security?.length) continue;
      const scopes = security.flatMap((r) => Object.values(r).flat());
      const note = scopes.length
        ? `Needs the ${scopes.map((s) => `\`${s}\``).join(", ")} scope.`
        : "Any valid credential; no particular scope.";
      op.description = op.description ? `${op.description}\n\n${note}` : note;
    }
  }
}

/**
 * Serves `GET /openapi.json` (OpenAPI 3.1) for every route the app documented: the document-level
 * parts (servers, security scheme, tags, the client webhooks) live here. The server is
 * `PUBLIC_BASE_URL`, or else `/`: relative to where the document is served, so a local stack's
 * document does not depend on the Host header a request sent.
 */
export function documentApi(app: OpenAPIHono<AppEnv>, options: { publicBaseUrl?: string }) {
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
    type: "http",
    scheme: "bearer",
    description: "An API key (`glf_live_…` / `glf_test_…`) or a Supabase Auth access token " +
      "whose `app_metadata.client_id` names a client (a user token holds every scope)",
  });
  registerWebhooks(app);
  const server = options.publicBaseUrl
    ? { url: options.publicBaseUrl.replace(/\/+$/, ""), description: "This deployment" }
    : { url: "/", description: "Where this document is served (PUBLIC_BASE_URL is not set)" };

  // built on first request, when every route is registered; it never changes afterwards
  let body: string | null = null;
  app.get("/openapi.json", (c) => {
    if (body === null) {
      const doc = app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "glooft-edge API",
          version: API_VERSION,
          description: "WhatsApp Business messaging for client businesses. Authenticate with " +
            "`Authorization: Bearer <key>`; each operation names the scope it needs. Errors " +
            'always use the envelope `{"error": {"code", "message", "request_id"}}`: branch on ' +
            "`code` (schema `ErrorCode`; each operation lists the codes it can answer with). " +
            "Client webhooks (`webhooks`) are signed per Standard Webhooks.\n\n## Errors\n\n" +
            `Every code:\n\n${errorCodeTable()}`,
        },
        servers: [server],
        tags: TAGS,
      });
      describeScopes(doc as Parameters<typeof describeScopes>[0]);
      body = JSON.stringify(doc);
    }
    return c.body(body, 200, { "content-type": "application/json; charset=UTF-8" });
  });
}
