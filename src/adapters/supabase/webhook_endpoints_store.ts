import type { Db } from "./database.ts";
import type {
  ClaimedDelivery,
  DeliveryEndpoint,
  EndpointChanges,
  NewWebhookDelivery,
  WebhookAttempt,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
  WebhookEndpointStore,
} from "../../ports/webhook_endpoints.ts";
import { groupByKey } from "../group_calls.ts";
import { checked as check } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

/**
 * Client webhook endpoints and their deliveries in PostgREST. The functions take a supabase-js
 * client: a tenant one (`db.forClient(id)`), so RLS keeps each client to its own rows, except
 * `dueWebhookDeliveries`, which sweeps across tenants with the service client.
 * `webhookEndpointStore()` puts them behind the port, with group commit.
 */
export type { WebhookAttempt };

// never the secret: it is shown once, when created or rotated
const ENDPOINT_COLUMNS =
  "id, url, description, event_types, enabled, disabled_reason, disabled_at, failing_since, consecutive_failures, created_at, updated_at";
// never the payload
const DELIVERY_COLUMNS =
  "id, event_id, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at";

/**
 * Null when the client already has as many endpoints as it may (the webhook_endpoints_within_limit
 * trigger refuses the insert with SQLSTATE GL409).
 */
export async function createWebhookEndpoint(
  db: Db,
  input: {
    id: string;
    clientId: string;
    url: string;
    description: string | null;
    eventTypes: string[];
    secretCiphertext: string;
  },
): Promise<WebhookEndpointRecord | null> {
  const result = await db.from("webhook_endpoints").insert({
    id: input.id,
    client_id: input.clientId,
    url: input.url,
    description: input.description,
    event_types: input.eventTypes,
    secret_ciphertext: input.secretCiphertext,
  }).select(ENDPOINT_COLUMNS).single();
  if (result.error?.code === "GL409") return null;
  return check(result, "Could not create the webhook endpoint");
}

export async function listWebhookEndpoints(db: Db): Promise<WebhookEndpointRecord[]> {
  return check(
    await db.from("webhook_endpoints").select(ENDPOINT_COLUMNS).order("created_at"),
    "Could not list webhook endpoints",
  );
}

export async function getWebhookEndpoint(
  db: Db,
  id: string,
): Promise<WebhookEndpointRecord | null> {
  return check(
    await db.from("webhook_endpoints").select(ENDPOINT_COLUMNS).eq("id", id).maybeSingle(),
    "Could not read the webhook endpoint",
  );
}

/**
 * Applies `changes`; turning an endpoint back on clears its failure record, turning it off
 * records who did. Null when there is no such endpoint for this client.
 */
export async function updateWebhookEndpoint(
  db: Db,
  id: string,
  changes: EndpointChanges & { secret_ciphertext?: string },
  now = new Date(),
): Promise<WebhookEndpointRecord | null> {
  const row = {
    ...changes,
    ...(changes.enabled === true
      ? { disabled_reason: null, disabled_at: null, failing_since: null, consecutive_failures: 0 }
      : {}),
    ...(changes.enabled === false
      ? { disabled_reason: "Disabled by the client", disabled_at: now.toISOString() }
      : {}),
  };
  if (Object.keys(row).length === 0) return await getWebhookEndpoint(db, id);
  return check(
    await db.from("webhook_endpoints").update(row).eq("id", id).select(ENDPOINT_COLUMNS)
      .maybeSingle(),
    "Could not update the webhook endpoint",
  );
}

/** Deletes the endpoint and (by cascade) its deliveries; false when there was none. */
export async function deleteWebhookEndpoint(db: Db, id: string): Promise<boolean> {
  const rows = check(
    await db.from("webhook_endpoints").delete().eq("id", id).select("id"),
    "Could not delete the webhook endpoint",
  );
  return rows.length > 0;
}

export async function listWebhookDeliveries(
  db: Db,
  endpointId: string,
  limit: number,
): Promise<WebhookDeliveryRecord[]> {
  return check(
    await db.from("webhook_deliveries").select(DELIVERY_COLUMNS).eq("endpoint_id", endpointId)
      .order("created_at", { ascending: false }).limit(limit),
    "Could not list webhook deliveries",
  );
}

/**
 * Puts the endpoint's failed and cancelled deliveries created since `since` back to pending, due
 * now, oldest first, at most `max`; returns their ids (see public.recover_webhook_deliveries).
 */
export async function recoverWebhookDeliveries(
  db: Db,
  endpointId: string,
  since: Date,
  max: number,
): Promise<string[]> {
  return check(
    await db.rpc("recover_webhook_deliveries", {
      endpoint: endpointId,
      since: since.toISOString(),
      max_rows: max,
    }),
    "Could not recover webhook deliveries",
  );
}

/**
 * What an attempt needs from endpoints, read fresh (never cached: a changed URL, a rotated secret
 * or a disabled endpoint counts from the next attempt). Endpoints that are gone are left out.
 */
export async function webhookEndpointsForDelivery(
  db: Db,
  ids: string[],
): Promise<Array<{ id: string } & DeliveryEndpoint>> {
  return check(
    await db.from("webhook_endpoints").select("id, url, secret_ciphertext, enabled").in("id", ids),
    "Could not read webhook endpoints",
  );
}

/**
 * Records deliveries and answers the ids recorded: those whose endpoint is still there (one
 * deleted meanwhile is left out rather than failing the rest; see
 * public.record_webhook_deliveries).
 */
export async function insertWebhookDeliveries(
  db: Db,
  rows: NewWebhookDelivery[],
): Promise<Set<string>> {
  return new Set(
    check<string[]>(
      await db.rpc("record_webhook_deliveries", { deliveries: rows }),
      "Could not record webhook deliveries",
    ),
  );
}

/**
 * Claims pending, due deliveries with a lease, so a job rung twice does not post twice at once;
 * one answer per id, in order: null when it is not due, already finished, or held by another
 * attempt.
 */
export async function claimWebhookDeliveries(
  db: Db,
  deliveryIds: string[],
  leaseSeconds = 60,
): Promise<Array<ClaimedDelivery | null>> {
  return check(
    await db.rpc("claim_webhook_deliveries", {
      delivery_ids: deliveryIds,
      lease_seconds: leaseSeconds,
    }),
    "Could not claim the webhook delivery",
  );
}

export async function cancelWebhookDelivery(db: Db, deliveryId: string) {
  check(
    await db.from("webhook_deliveries").update({ status: "cancelled", locked_until: null })
      .eq("id", deliveryId).eq("status", "pending"),
    "Could not cancel the webhook delivery",
  );
}

/**
 * Records attempts' outcomes, one answer per attempt in order (see `public.finish_webhook_attempt`
 * in the client webhooks migration): whether this attempt disabled the endpoint, and why.
 */
export async function finishWebhookAttempts(
  db: Db,
  attempts: WebhookAttempt[],
): Promise<Array<{ disabled: boolean; reason?: string } | null>> {
  return check(
    await db.rpc("finish_webhook_attempts", {
      attempts: attempts.map((a) => ({
        delivery_id: a.deliveryId,
        succeeded: a.succeeded,
        attempt_status_code: a.statusCode,
        attempt_error: a.error,
        retry_in_ms: a.retryInMs,
        gone: a.gone,
        disable_after_ms: a.disableAfterMs,
        disable_after_failures: a.disableAfterFailures,
        failures_over_ms: a.failuresOverMs,
      })),
    }),
    "Could not record the webhook attempt",
  );
}

/**
 * Pending deliveries whose time has come and that no attempt holds (any client), in turns per
 * client, oldest first within one (see public.due_webhook_deliveries).
 */
export async function dueWebhookDeliveries(
  service: Db,
  limit: number,
): Promise<Array<{ id: string; client_id: string }>> {
  return check(
    await service.rpc("due_webhook_deliveries", { max_rows: limit }),
    "Sweep of webhook deliveries failed",
  );
}

/**
 * The port over PostgREST. Claims, endpoint reads for claimed deliveries and finished attempts of
 * one client that arrive within 2 ms share one call, up to `maxBatch` (default 100; 1 on Workers,
 * whose isolates do not share writes between requests).
 */
export function webhookEndpointStore(
  db: DatabaseAccess,
  options: { maxBatch?: number } = {},
): WebhookEndpointStore {
  const grouping = { maxBatch: options.maxBatch };
  const claim = groupByKey<string, ClaimedDelivery | null>(
    (clientId, ids) => claimWebhookDeliveries(db.forClient(clientId), ids),
    grouping,
  );
  const endpointOf = groupByKey<string, DeliveryEndpoint | null>(
    async (clientId, ids) => {
      const found = new Map(
        (await webhookEndpointsForDelivery(db.forClient(clientId), [...new Set(ids)]))
          .map(({ id, ...endpoint }) => [id, endpoint]),
      );
      return ids.map((id) => found.get(id) ?? null);
    },
    grouping,
  );
  const finish = groupByKey<WebhookAttempt, { disabled: boolean; reason?: string } | null>(
    (clientId, attempts) => finishWebhookAttempts(db.forClient(clientId), attempts),
    grouping,
  );
  return {
    create: (clientId, input) =>
      createWebhookEndpoint(db.forClient(clientId), { ...input, clientId }),
    list: (clientId) => listWebhookEndpoints(db.forClient(clientId)),
    get: (clientId, id) => getWebhookEndpoint(db.forClient(clientId), id),
    update: (clientId, id, changes, now) =>
      updateWebhookEndpoint(db.forClient(clientId), id, changes, now),
    remove: (clientId, id) => deleteWebhookEndpoint(db.forClient(clientId), id),
    deliveries: (clientId, endpointId, limit) =>
      listWebhookDeliveries(db.forClient(clientId), endpointId, limit),
    recover: (clientId, endpointId, since, max) =>
      recoverWebhookDeliveries(db.forClient(clientId), endpointId, since, max),
    endpointForDelivery: endpointOf,
    record: (clientId, rows) => insertWebhookDeliveries(db.forClient(clientId), rows),
    claim,
    cancel: (clientId, deliveryId) => cancelWebhookDelivery(db.forClient(clientId), deliveryId),
    finish,
    due: (limit) => dueWebhookDeliveries(db.service, limit),
  };
}
