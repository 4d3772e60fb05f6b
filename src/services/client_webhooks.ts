import { audit } from "../adapters/supabase/audit.ts";
import { decryptField, encryptField } from "../core/crypto/envelope.ts";
import { checkWebhookUrl } from "../core/webhooks/ssrf_guard.ts";
import { signStandardWebhook, WEBHOOK_HEADERS } from "../core/webhooks/standard_webhooks.ts";
import type { EventPublisher } from "../ports/events.ts";
import type { Job } from "../ports/jobs.ts";
import type { ServiceDeps } from "./deps.ts";

/** What clients can subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  "message.received",
  "message.status",
  "account.alert",
  "webhook.test",
] as const;

/**
 * Retry schedule after each failed attempt (the Standard Webhooks / Svix cadence): about 1 day 12
 * hours from first try to the last; each wait gets ±20% jitter so receivers recovering from an
 * outage are not hit by every retry at once.
 */
export const RETRY_SCHEDULE_MS = [
  5_000,
  300_000,
  1_800_000,
  7_200_000,
  18_000_000,
  36_000_000,
  36_000_000,
];
/** An endpoint failing without a single success for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3600 * 1000;

export interface WebhookDeps
  extends Pick<ServiceDeps, "db" | "dataKeys" | "doorbell" | "logger" | "now"> {
  allowPrivate: boolean;
  fetch?: typeof fetch;
  schedule?: number[];
  disableAfterMs?: number;
  timeoutMs?: number;
}

interface Endpoint {
  id: string;
  event_types: string[];
}

const ENDPOINT_CACHE_MS = 5_000;

/**
 * Client webhooks: `publish` records one delivery per subscribed endpoint (durably, encrypted)
 * and returns the jobs to ring; `deliver` makes one signed attempt; `due` finds deliveries whose
 * time has come, for the sweeper.
 */
export function clientWebhooks(deps: WebhookDeps) {
  const schedule = deps.schedule ?? RETRY_SCHEDULE_MS;
  const disableAfter = deps.disableAfterMs ?? DISABLE_AFTER_MS;
  const doFetch = deps.fetch ?? fetch;
  const endpoints = new Map<string, { list: Endpoint[]; until: number }>();

  async function subscribed(clientId: string, type: string): Promise<Endpoint[]> {
    let hit = endpoints.get(clientId);
    if (!hit || hit.until < deps.now()) {
      const { data, error } = await deps.db.forClient(clientId).from("webhook_endpoints")
        .select("id, event_types").eq("enabled", true);
      if (error) throw new Error(`Could not list webhook endpoints: ${error.message}`);
      hit = { list: data as Endpoint[], until: deps.now() + ENDPOINT_CACHE_MS };
      if (endpoints.size > 10_000) endpoints.clear();
      endpoints.set(clientId, hit);
    }
    return hit.list.filter((e) => e.event_types.length === 0 || e.event_types.includes(type));
  }

  const publisher: EventPublisher = {
    async publish(event) {
      const targets = await subscribed(event.clientId, event.type);
      return await record(event, targets.map((t) => t.id));
    },
  };

  async function record(
    event: { clientId: string; type: string; data: Record<string, unknown> },
    endpointIds: string[],
  ): Promise<Job[]> {
    if (!endpointIds.length) return [];
    const eventId = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
    const body = JSON.stringify({
      type: event.type,
      timestamp: new Date(deps.now()).toISOString(),
      data: event.data,
    });
    const key = await deps.dataKeys.forClient(event.clientId);
    const rows = await Promise.all(endpointIds.map(async (endpointId) => {
      const id = crypto.randomUUID();
      return {
        id,
        client_id: event.clientId,
        endpoint_id: endpointId,
        event_id: eventId,
        event_type: event.type,
        payload_ciphertext: await encryptField(key, body, `webhook_delivery:${id}`),
      };
    }));
    const { error } = await deps.db.forClient(event.clientId).from("webhook_deliveries").insert(
      rows,
    );
    if (error) throw new Error(`Could not record webhook deliveries: ${error.message}`);
    return rows.map((r) => ({
      kind: "webhook_delivery" as const,
      clientId: event.clientId,
      deliveryId: r.id,
    }));
  }

  async function deliver(job: { clientId: string; deliveryId: string }) {
    const db = deps.db.forClient(job.clientId);
    const claim = await db.rpc("claim_webhook_delivery", { delivery_id: job.deliveryId });
    if (claim.error) throw new Error(`Could not claim the delivery: ${claim.error.message}`);
    const row = claim.data as {
      id: string;
      endpoint_id: string;
      event_id: string;
      attempts: number;
      payload_ciphertext: string;
      endpoint: {
        url: string;
        secret_ciphertext: string;
        enabled: boolean;
        failing_since: string | null;
        consecutive_failures: number;
      };
    } | null;
    if (!row) return { outcome: "skipped" as const };
    const endpoint = row.endpoint;
    if (!endpoint.enabled) {
      await db.from("webhook_deliveries").update({ status: "cancelled", locked_until: null }).eq(
        "id",
        row.id,
      );
      return { outcome: "cancelled" as const };
    }
    const key = await deps.dataKeys.forClient(job.clientId);
    const body = await decryptField(key, row.payload_ciphertext, `webhook_delivery:${row.id}`);
    const secret = await decryptField(
      key,
      endpoint.secret_ciphertext,
      `webhook_secret:${row.endpoint_id}`,
    );
    const timestamp = Math.floor(deps.now() / 1000);

    let status: number | null = null;
    let failure: string | null = null;
    const target = checkWebhookUrl(endpoint.url, { allowPrivate: deps.allowPrivate });
    if (!target.ok) failure = `URL ${target.reason}`;
    else {
      try {
        const res = await doFetch(target.url, {
          method: "POST",
          redirect: "manual",
          signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
          headers: {
            "content-type": "application/json",
            "user-agent": "glooft-edge-webhooks/1",
            [WEBHOOK_HEADERS.id]: row.event_id,
            [WEBHOOK_HEADERS.timestamp]: String(timestamp),
            [WEBHOOK_HEADERS.signature]: await signStandardWebhook({
              secret,
              id: row.event_id,
              timestamp,
              body,
            }),
          },
          body,
        });
        await res.body?.cancel();
        status = res.status;
        // a redirect could bounce into a private address: it counts as a failure
        if (res.status < 200 || res.status >= 300) failure = `HTTP ${res.status}`;
      } catch (error) {
        failure = (error as Error).name === "TimeoutError" ? "Timed out" : "Connection failed";
      }
    }

    const attempts = row.attempts + 1;
    if (!failure) {
      await db.from("webhook_deliveries").update({
        status: "succeeded",
        attempts,
        last_status_code: status,
        last_error: null,
        locked_until: null,
        delivered_at: new Date(deps.now()).toISOString(),
      }).eq("id", row.id);
      if (endpoint.consecutive_failures || endpoint.failing_since) {
        await db.from("webhook_endpoints").update({ consecutive_failures: 0, failing_since: null })
          .eq("id", row.endpoint_id);
      }
      return { outcome: "succeeded" as const, status };
    }

    const wait = schedule[attempts - 1];
    const giveUp = wait === undefined;
    const jittered = giveUp ? 0 : Math.round(wait * (0.8 + Math.random() * 0.4));
    await db.from("webhook_deliveries").update({
      status: giveUp ? "failed" : "pending",
      attempts,
      last_status_code: status,
      last_error: failure,
      locked_until: null,
      next_attempt_at: new Date(deps.now() + jittered).toISOString(),
    }).eq("id", row.id);
    const failingSince = endpoint.failing_since ?? new Date(deps.now()).toISOString();
    const disable = deps.now() - Date.parse(failingSince) >= disableAfter;
    await db.from("webhook_endpoints").update({
      consecutive_failures: endpoint.consecutive_failures + 1,
      failing_since: failingSince,
      ...(disable
        ? {
          enabled: false,
          disabled_at: new Date(deps.now()).toISOString(),
          disabled_reason: `Failing since ${failingSince} (last: ${failure})`,
        }
        : {}),
    }).eq("id", row.endpoint_id);
    if (disable) {
      endpoints.delete(job.clientId);
      await audit(db, {
        clientId: job.clientId,
        actor: "system:webhooks",
        action: "webhook_endpoint.disabled",
        targetType: "webhook_endpoint",
        targetId: row.endpoint_id,
        details: { failing_since: failingSince, last_error: failure },
      });
      deps.logger.warn("webhook_endpoint_disabled", {
        client_id: job.clientId,
        endpoint_id: row.endpoint_id,
      });
    } else if (!giveUp) {
      await deps.doorbell.ring([{ kind: "webhook_delivery", ...job }], { delayMs: jittered });
    }
    return { outcome: giveUp ? "failed" as const : "retrying" as const, status, error: failure };
  }

  async function due(limit: number): Promise<Job[]> {
    const now = new Date(deps.now()).toISOString();
    const { data, error } = await deps.db.service.from("webhook_deliveries").select("id, client_id")
      .eq("status", "pending").lte("next_attempt_at", now)
      .or(`locked_until.is.null,locked_until.lt.${now}`).order("next_attempt_at").limit(limit);
    if (error) throw new Error(`Sweep of webhook deliveries failed: ${error.message}`);
    return data.map((r) => ({
      kind: "webhook_delivery" as const,
      clientId: r.client_id as string,
      deliveryId: r.id as string,
    }));
  }

  return {
    publisher,
    deliver,
    due,
    /** a test event to one endpoint only, whatever it subscribes to */
    sendTest: (clientId: string, endpointId: string) =>
      record({ clientId, type: "webhook.test", data: { endpoint_id: endpointId } }, [endpointId]),
    forget: (clientId: string) => endpoints.delete(clientId),
  };
}

export type ClientWebhooks = ReturnType<typeof clientWebhooks>;
