/**
 * The /v1 API as the suite sees it: every operation read from the app's own OpenAPI document (so
 * a new route is fuzzed and put through the authorization matrix without anyone listing it), the
 * scope each one needs, a valid request for each, and a tenant that owns one of everything.
 * A route without an entry here fails the tests that use it, the way a table without a fixture
 * fails the RLS matrix.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../../src/adapters/supabase/api_keys_store.ts";
import { importPepper, type Scope, SCOPES } from "../../src/core/auth/api_keys.ts";
import { encryptField } from "../../src/core/crypto/envelope.ts";
import type { Answer, Edge } from "./edge.ts";
import { tenantWithNumber } from "./edge.ts";
import { serviceClient, sql, testStack } from "./stack.ts";
import { storeTemplates } from "./templates.ts";

export interface Operation {
  /** "GET /v1/messages/{id}" */
  key: string;
  method: string;
  path: string;
  pathParams: string[];
  query: Array<{ name: string; schema: Record<string, unknown> }>;
  hasBody: boolean;
  /** the statuses the document promises */
  responses: number[];
}

type AppFetch = (path: string, init?: RequestInit) => Promise<Answer>;

/** Every /v1 operation in GET /openapi.json. */
export async function apiOperations(fetchApp: AppFetch): Promise<Operation[]> {
  const res = await fetchApp("/openapi.json");
  assert.equal(res.status, 200);
  const doc = JSON.parse(res.text) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith("/v1/")) continue;
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters ?? []) as Array<
        { name: string; in: string; schema: Record<string, unknown> }
      >;
      ops.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        query: params.filter((p) => p.in === "query").map((p) => ({
          name: p.name,
          schema: p.schema ?? {},
        })),
        hasBody: Boolean(op.requestBody),
        responses: Object.keys(op.responses as object).map(Number),
      });
    }
  }
  return ops;
}

/** "METHOD /v1/path/{param}" for every handler the router serves under /v1 (not middleware). */
export function routedOperations(routes: ReadonlyArray<{ method: string; path: string }>) {
  return [
    ...new Set(
      routes.filter((r) => r.path.startsWith("/v1/") && r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`),
    ),
  ];
}

/** The scope each operation needs (README's API table); null: any valid credential. */
export const ROUTE_SCOPES: Record<string, Scope | null> = {
  "GET /v1/me": null,
  "GET /v1/api-keys": "api-keys:manage",
  "POST /v1/api-keys": "api-keys:manage",
  "DELETE /v1/api-keys/{id}": "api-keys:manage",
  "POST /v1/messages": "messages:send",
  "GET /v1/messages": "messages:read",
  "GET /v1/messages/{id}": "messages:read",
  "POST /v1/messages/{id}/retry": "messages:send",
  "GET /v1/contacts": "contacts:read",
  "GET /v1/contacts/{contact}": "contacts:read",
  "PUT /v1/contacts/{contact}/consent": "contacts:write",
  "GET /v1/media/{id}": "messages:read",
  "POST /v1/webhook-endpoints": "webhooks:manage",
  "GET /v1/webhook-endpoints": "webhooks:manage",
  "GET /v1/webhook-endpoints/{id}": "webhooks:manage",
  "PATCH /v1/webhook-endpoints/{id}": "webhooks:manage",
  "DELETE /v1/webhook-endpoints/{id}": "webhooks:manage",
  "POST /v1/webhook-endpoints/{id}/rotate-secret": "webhooks:manage",
  "GET /v1/webhook-endpoints/{id}/deliveries": "webhooks:manage",
  "POST /v1/webhook-endpoints/{id}/test": "webhooks:manage",
  "POST /v1/webhook-endpoints/{id}/recover": "webhooks:manage",
  "GET /v1/account-events": "messages:read",
  "GET /v1/plugins": "plugins:manage",
  "GET /v1/plugins/{plugin}": "plugins:manage",
  "PUT /v1/plugins/{plugin}": "plugins:manage",
  "DELETE /v1/plugins/{plugin}": "plugins:manage",
  "POST /v1/plugins/{plugin}/retry": "plugins:manage",
  "GET /v1/templates": "templates:read",
  "GET /v1/templates/{id}": "templates:read",
  "POST /v1/templates": "templates:manage",
  "DELETE /v1/templates/{id}": "templates:manage",
  "POST /v1/templates/sync": "templates:manage",
  "POST /v1/privacy/requests": "privacy:write",
  "GET /v1/privacy/requests": "privacy:write",
  "GET /v1/privacy/requests/{id}": "privacy:write",
};

export type Tenant = Awaited<ReturnType<typeof populatedTenant>>;

export interface SampleRequest {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** other valid bodies the operation takes (a send is also a mark-as-read) */
  otherBodies?: unknown[];
  /**
   * path params that name what every client has (a plugin of the deployment), not a tenant's
   * resource: another client's request names the same
   */
  shared?: string[];
}

/**
 * A valid request to each operation on `tenant`'s own resources. `spare` resources are the ones a
 * request may consume (a key to revoke, an endpoint to delete).
 */
export function sampleRequest(key: string, t: Tenant, spare = false): SampleRequest | undefined {
  const endpoint = spare ? t.spareEndpointId : t.endpointId;
  const samples: Record<string, SampleRequest> = {
    "GET /v1/me": {},
    "GET /v1/api-keys": {},
    // a key may grant only scopes its creator holds: the one this route needs is always held
    "POST /v1/api-keys": { body: { name: "made", scopes: ["api-keys:manage"] } },
    "DELETE /v1/api-keys/{id}": { params: { id: t.spareKeyId } },
    "POST /v1/messages": {
      body: {
        to: `+${t.contactWaId}`,
        type: "template",
        template: { name: "hello", language: { code: "en_US" } },
      },
      otherBodies: [
        { status: "read", message_id: t.inboundWamid },
        { to: t.contactWaId, type: "text", text: { body: "hello" } },
      ],
    },
    "GET /v1/messages": { query: { limit: "2" } },
    "GET /v1/messages/{id}": { params: { id: t.inboundMessageId } },
    "POST /v1/messages/{id}/retry": { params: { id: t.deadLetteredMessageId } },
    "GET /v1/contacts": { query: { limit: "5" } },
    "GET /v1/contacts/{contact}": { params: { contact: t.contactId } },
    "PUT /v1/contacts/{contact}/consent": {
      params: { contact: t.contactWaId },
      body: { status: "opted_in", source: "checkout" },
    },
    "GET /v1/media/{id}": { params: { id: t.mediaId } },
    "POST /v1/webhook-endpoints": { body: { url: "http://127.0.0.1:9/hook" } },
    "GET /v1/webhook-endpoints": {},
    "GET /v1/webhook-endpoints/{id}": { params: { id: endpoint } },
    "PATCH /v1/webhook-endpoints/{id}": {
      params: { id: endpoint },
      body: { description: "changed" },
    },
    "DELETE /v1/webhook-endpoints/{id}": { params: { id: t.spareEndpointId } },
    "POST /v1/webhook-endpoints/{id}/rotate-secret": { params: { id: endpoint } },
    "GET /v1/webhook-endpoints/{id}/deliveries": {
      params: { id: endpoint },
      query: { limit: "5" },
    },
    "POST /v1/webhook-endpoints/{id}/test": { params: { id: endpoint } },
    "POST /v1/webhook-endpoints/{id}/recover": {
      params: { id: endpoint },
      body: { since: "2026-01-01T00:00:00Z" },
    },
    "GET /v1/account-events": { query: { limit: "5" } },
    "GET /v1/plugins": {},
    "GET /v1/plugins/{plugin}": { params: { plugin: "opt-out" }, shared: ["plugin"] },
    "PUT /v1/plugins/{plugin}": {
      params: { plugin: "opt-out" },
      body: { enabled: true, config: { confirm: false } },
      shared: ["plugin"],
    },
    "DELETE /v1/plugins/{plugin}": { params: { plugin: "opt-out" }, shared: ["plugin"] },
    "POST /v1/plugins/{plugin}/retry": { params: { plugin: "opt-out" }, shared: ["plugin"] },
    "GET /v1/templates": { query: { limit: "5", status: "APPROVED" } },
    "GET /v1/templates/{id}": { params: { id: t.templateId } },
    // Meta, unreachable here, fails the call: the path to the documented 502 is exercised
    "POST /v1/templates": {
      body: {
        name: "made_here",
        language: "en_US",
        category: "UTILITY",
        components: [{
          type: "BODY",
          text: "Hi {{1}}, thanks.",
          example: { body_text: [["Ana"]] },
        }],
      },
    },
    "DELETE /v1/templates/{id}": { params: { id: t.spareTemplateId } },
    "POST /v1/templates/sync": { query: { waba_id: t.wabaId } },
    "POST /v1/privacy/requests": {
      body: {
        type: "access",
        subject: { phone: `+${t.contactWaId}` },
        verification: { method: "client_attestation", attested_by: "support desk" },
      },
      otherBodies: [{
        type: "correction",
        subject: { phone: `+${t.contactWaId}` },
        correction: { profile_name: "Corrected" },
        verification: { method: "client_attestation", attested_by: "support desk" },
        external_id: `ticket-${t.clientId}`,
      }],
    },
    "GET /v1/privacy/requests": { query: { limit: "5" } },
    "GET /v1/privacy/requests/{id}": { params: { id: t.privacyRequestId } },
  };
  return samples[key];
}

/** The request line and init for a sample (or a variant of one). */
export function requestFor(
  op: Operation,
  sample: SampleRequest,
  headers: Record<string, string>,
): [string, RequestInit] {
  let path = op.path;
  for (const name of op.pathParams) {
    path = path.replace(`{${name}}`, encodeURIComponent(sample.params?.[name] ?? ""));
  }
  const query = new URLSearchParams(sample.query ?? {}).toString();
  const init: RequestInit = { method: op.method, headers: { ...headers } };
  if (sample.body !== undefined) {
    init.body = JSON.stringify(sample.body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  return [query ? `${path}?${query}` : path, init];
}

const pepper = importPepper(testStack().secrets.api_key_pepper);

/** An API key of `clientId` holding `scopes`, made as the operator CLI makes one. */
export async function keyFor(clientId: string, scopes: readonly Scope[] = SCOPES) {
  const { key, record } = await createApiKey(serviceClient(), await pepper, {
    clientId,
    name: scopes.length === 1 ? scopes[0] : `${scopes.length} scopes`,
    environment: "test",
    scopes: [...scopes],
    createdBy: "operator:test",
  });
  return { key, id: record.id };
}

let sequence = 0;

/**
 * A client owning one of every resource the API names by id: a contact, an inbound message with
 * media, a dead-lettered outbound message, webhook endpoints with a delivery, a spare API key, an
 * account event, a parked plugin event, message templates (`hello`, which the sample send uses,
 * and a spare one) and a privacy request. Made through the API where the API makes them.
 */
export async function populatedTenant(name: string, edge: Edge) {
  const fetchApp = edge.fetch;
  const t = await tenantWithNumber(name);
  // a WhatsApp access token, so media and mark-as-read reach the Graph API (which, unreachable
  // here, fails: the path to a 502 is exercised too)
  const dek = await edge.deps.services.dataKeys.forClient(t.clientId);
  await sql("update whatsapp_business_accounts set access_token_ciphertext = $2 where id = $1", [
    t.wabaRowId,
    await encryptField(dek, `EMU-${crypto.randomUUID()}`, `wa_token:${t.wabaId}`),
  ]);
  const { key, id: keyId } = await keyFor(t.clientId);
  const contactWaId = `4477009${String(Date.now() % 1e5).padStart(5, "0")}${++sequence}`;
  const [contact] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id, last_inbound_at) values ($1, $2, now()) returning id",
    [t.clientId, contactWaId],
  );
  const mediaId = `${Date.now()}${++sequence}`;
  const inboundWamid = `wamid.IN${crypto.randomUUID()}`;
  const [inbound] = await sql<{ id: string }>(
    `insert into messages (client_id, phone_number_id, contact_id, direction, wamid, type, status, media, recipient)
     values ($1, $2, $3, 'inbound', $4, 'image', 'received', $5, $6) returning id`,
    [
      t.clientId,
      t.phoneId,
      contact.id,
      inboundWamid,
      { id: mediaId, mime_type: "image/jpeg", sha256: null },
      contactWaId,
    ],
  );
  // as a send stores it (content sealed for its id), so a valid re-drive reaches a new send
  const deadId = crypto.randomUUID();
  const [dead] = await sql<{ id: string }>(
    `insert into messages (id, client_id, phone_number_id, contact_id, direction, type, content_ciphertext, status, recipient, dead_lettered_at, failed_at)
     values ($1, $2, $3, $4, 'outbound', 'text', $5, 'failed', $6, now(), now()) returning id`,
    [
      deadId,
      t.clientId,
      t.phoneId,
      contact.id,
      await encryptField(dek, JSON.stringify({ text: { body: "hello" } }), `message:${deadId}`),
      contactWaId,
    ],
  );
  await sql(
    "insert into whatsapp_account_events (client_id, waba_id, field, value) values ($1, $2, 'account_update', '{}')",
    [t.clientId, t.wabaId],
  );
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const made = async (path: string, body: unknown) => {
    const res = await fetchApp(path, { method: "POST", headers, body: JSON.stringify(body) });
    assert.ok(res.status < 300, `${path}: ${res.status} ${res.text}`);
    return JSON.parse(res.text);
  };
  const endpoint = await made("/v1/webhook-endpoints", { url: "http://127.0.0.1:9/hook" });
  const spareEndpoint = await made("/v1/webhook-endpoints", { url: "http://127.0.0.1:9/spare" });
  // a finished delivery, written directly: one rung through the API would keep retrying (and
  // changing the tenant's rows) in the background while tests compare them
  const [delivery] = await sql<{ id: string }>(
    `insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext, status, attempts, last_error)
     values ($1, $2, $3, 'webhook.test', 'gone', 'failed', 8, 'connection refused') returning id`,
    [t.clientId, endpoint.endpoint.id, `evt_${crypto.randomUUID()}`],
  );
  // an event the opt-out plugin's handler failed on every attempt (GET /v1/plugins/opt-out shows it)
  const [parked] = await sql<{ id: string }>(
    `insert into plugin_deliveries (client_id, plugin_id, event_type, status, attempts, last_error, finished_at)
     values ($1, 'opt-out', 'message.received', 'parked', 5, 'handler failed', now()) returning id`,
    [t.clientId],
  );
  const spareKey = await made("/v1/api-keys", { name: "spare", scopes: ["messages:read"] });
  // as a sync leaves them (the account is then not due one: nothing changes in the background)
  const [template, spareTemplate] = await storeTemplates(t.clientId, t.wabaRowId, [
    { name: "hello", components: [{ type: "BODY", text: "Hello." }] },
    { name: "spare_template" },
  ]);
  // a data-subject request the client forwarded about its contact (attested, so verified)
  const privacy = await made("/v1/privacy/requests", {
    type: "access",
    subject: { phone: `+${contactWaId}` },
    verification: { method: "client_attestation", attested_by: "support desk" },
  });
  return {
    ...t,
    key,
    keyId,
    contactId: contact.id,
    contactWaId,
    inboundMessageId: inbound.id,
    inboundWamid,
    deadLetteredMessageId: dead.id,
    mediaId,
    endpointId: endpoint.endpoint.id as string,
    spareEndpointId: spareEndpoint.endpoint.id as string,
    deliveryId: delivery.id,
    parkedPluginEventId: parked.id,
    spareKeyId: spareKey.api_key.id as string,
    templateId: template.id,
    spareTemplateId: spareTemplate.id,
    privacyRequestId: privacy.request.id as string,
  };
}
