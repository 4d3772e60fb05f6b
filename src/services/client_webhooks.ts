import { decryptField, DecryptionError, encryptField } from "../core/crypto/envelope.ts";
import {
  checkWebhookUrl,
  RefusedTarget,
  RESOLUTION_REFUSALS,
  type UrlCheck,
} from "../core/webhooks/ssrf_guard.ts";
import {
  signStandardWebhook,
  WEBHOOK_HEADERS,
  webhookSigningKey,
} from "../core/webhooks/standard_webhooks.ts";
import type { CoreEvent, EventPublisher } from "../ports/events.ts";
import type { ClaimedWebhookDelivery, Job } from "../ports/jobs.ts";
import type { ClaimedDelivery, NewWebhookDelivery } from "../ports/webhook_endpoints.ts";
import type { ServiceDeps } from "./deps.ts";
import { pluginRegistry } from "./plugins/registry.ts";
import { type SubscriptionCache, subscriptionCache } from "./subscriptions.ts";

/**
 * What clients can subscribe to; each is POSTed as `{"type", "timestamp", "data"}`:
 * - `message.received`: an inbound message (id, wamid, phone_number_id, from, profile_name, type,
 *   text, content, timestamp).
 * - `message.status`: a new status of a message the client sent through us (message id, wamid,
 *   status sent/delivered/read/failed, timestamp, errors); which ones: statusNotices() in
 *   whatsapp_inbox.ts.
 * - `account.alert`: something the client must act on (for example its access token was rejected,
 *   Graph code 190).
 * - `contact.consent_changed`: a contact opted in or out (through the API, or by a keyword).
 * - `template.status`: a template's status changed (id, waba_id, name, language, category,
 *   status, previous_status, reason): approved, rejected, paused, disabled, ..., or DELETED when
 *   Meta no longer lists it. From Meta's webhooks and from syncs (src/services/templates.ts).
 * - `template.quality`: a template's quality score changed (quality_score GREEN, YELLOW, RED or
 *   UNKNOWN, previous_quality_score).
 * - `webhook.test`: sent on request to one endpoint only, whatever it subscribes to.
 */
export const WEBHOOK_EVENT_TYPES = [
  "message.received",
  "message.status",
  "account.alert",
  "contact.consent_changed",
  "template.status",
  "template.quality",
  "webhook.test",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Waits after each failed attempt (the Svix cadence: immediately, then 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h): eight attempts over about 27 hours. Each wait gets ±20% jitter so receivers
 * recovering from an outage are not hit by every retry at once.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  300_000,
  1_800_000,
  7_200_000,
  18_000_000,
  36_000_000,
  36_000_000,
];

/**
 * When a failing endpoint is turned off (and audited): after failing without a single success for
 * `afterMs` (Svix's 5 days), or after `afterFailures` failed attempts in a row once it has been
 * failing for at least `failuresOverMs`: without that floor, a one-minute outage during a burst of
 * events would disable a busy endpoint. A 410 Gone answer disables it at once (Standard Webhooks).
 */
export const DISABLE_RULES: Readonly<DisableRules> = {
  afterMs: 5 * 24 * 3600_000,
  afterFailures: 50,
  failuresOverMs: 24 * 3600_000,
};
export interface DisableRules {
  afterMs: number;
  afterFailures: number;
  failuresOverMs: number;
}

export const DELIVERY_TIMEOUT_MS = 10_000;
/**
 * A client's endpoints at most (public.webhook_endpoints_within_limit enforces it): every event
 * is one delivery per endpoint, so this bounds what one event can cost.
 */
export const MAX_WEBHOOK_ENDPOINTS = 10;
/** deliveries written per insert, so the rows held at once stay bounded */
const RECORD_CHUNK = 500;
/**
 * Deliveries of one publish written claimed (claimOnRecordSeconds) with their body in the job;
 * the rest are written unclaimed and their jobs claim and decrypt the row when they run, so a
 * burst of events does not hold every body in memory while it waits its turn.
 */
const CLAIMED_PER_PUBLISH = 500;
/** how long registration waits for the URL's host to resolve */
const VET_TIMEOUT_MS = 5_000;
const USER_AGENT = "glooft-edge-webhooks/1";

export interface WebhookDeps extends
  Pick<
    ServiceDeps,
    | "webhookEndpoints"
    | "audit"
    | "dataKeys"
    | "doorbell"
    | "logger"
    | "now"
    | "webhookEgress"
    | "localWebhookEgress"
    | "subscribers"
  > {
  /**
   * Who hears each client's events, cached for a few seconds; shared with the plugin fan-out, so
   * both cost one lookup (default: a cache of this instance's own)
   */
  subscriptions?: SubscriptionCache;
  /**
   * Private, loopback and plain-http targets, only outside production: deliveries then go through
   * `localWebhookEgress` (plain fetch), since local receivers are the point there.
   */
  allowPrivate: boolean;
  /** waits after each failed attempt; its length + 1 is the number of attempts */
  schedule?: readonly number[];
  disable?: Partial<DisableRules>;
  timeoutMs?: number;
  /**
   * Where jobs run in this process (Deno), a new delivery is written already claimed for this long
   * and its job carries the body, so the first attempt needs no claim and no decryption; if the
   * process dies, the sweeper takes the row once the lease runs out. Off where a queue may run
   * the job elsewhere (Workers): the body in clear must not travel through it.
   */
  claimOnRecordSeconds?: number;
}

export type DeliveryResult =
  | { outcome: "skipped" | "cancelled" }
  | { outcome: "succeeded"; status: number }
  | {
    outcome: "retrying" | "failed";
    status: number | null;
    error: string;
    endpointDisabled: boolean;
  };

type ClientEvent = CoreEvent;
type DeliveryRow = NewWebhookDelivery & { body: string };

/**
 * Client webhooks: `publisher.publish` records one encrypted delivery per subscribed endpoint and
 * returns the jobs to ring; `deliver` makes one signed attempt at a delivery; `due` finds
 * deliveries whose time has come, for the sweeper. One instance per isolate: it caches each
 * client's endpoint list for a few seconds, because every inbound message and status publishes.
 */
export function clientWebhooks(deps: WebhookDeps) {
  const schedule = deps.schedule ?? RETRY_SCHEDULE_MS;
  const rules = { ...DISABLE_RULES, ...deps.disable };
  const egress = deps.allowPrivate ? deps.localWebhookEgress : deps.webhookEgress;
  const store = deps.webhookEndpoints;
  const subscriptions = deps.subscriptions ?? subscriptionCache({
    subscribers: deps.subscribers,
    registry: pluginRegistry([]),
    logger: deps.logger,
    now: deps.now,
  });

  async function subscribed(clientId: string, type: string): Promise<string[]> {
    const { endpoints } = await subscriptions.forClient(clientId);
    return endpoints.filter((e) => e.event_types.length === 0 || e.event_types.includes(type))
      .map((e) => e.id);
  }

  /**
   * Each endpoint's signing key, decrypted and imported once per secret, not once per delivery
   * (the two cost about as much as the rest of a delivery's crypto). A rotated secret has a new
   * ciphertext, so it is never signed with the old key; a failure is not remembered.
   */
  const signingKeys = new Map<string, { ciphertext: string; key: Promise<CryptoKey> }>();
  function signingKey(dataKey: CryptoKey, endpointId: string, ciphertext: string) {
    const hit = signingKeys.get(endpointId);
    if (hit?.ciphertext === ciphertext) return hit.key;
    const entry = {
      ciphertext,
      key: decryptField(dataKey, ciphertext, `webhook_secret:${endpointId}`)
        .then(webhookSigningKey),
    };
    entry.key.catch(() => {
      if (signingKeys.get(endpointId) === entry) signingKeys.delete(endpointId);
    });
    if (signingKeys.size > 10_000) signingKeys.clear();
    signingKeys.set(endpointId, entry);
    return entry.key;
  }

  /**
   * One client's events, each to the given endpoints, recorded RECORD_CHUNK deliveries per insert
   * so that the rows (each with its body, in clear and encrypted) held at once stay bounded
   * however many events a batch publishes.
   */
  async function record(
    clientId: string,
    events: Array<{ event: ClientEvent; endpointIds: string[] }>,
  ): Promise<Job[]> {
    if (!events.some((e) => e.endpointIds.length)) return [];
    const key = await deps.dataKeys.forClient(clientId);
    const lease = deps.claimOnRecordSeconds;
    const lockedUntil = lease ? new Date(deps.now() + lease * 1000).toISOString() : undefined;
    const jobs: Job[] = [];
    let rows: Array<Promise<DeliveryRow>> = [];
    const flush = async () => {
      const chunk = await Promise.all(rows);
      rows = [];
      if (!chunk.length) return;
      // past the first CLAIMED_PER_PUBLISH, a job holds the delivery's id alone
      const claimed = lockedUntil && jobs.length < CLAIMED_PER_PUBLISH
        ? CLAIMED_PER_PUBLISH - jobs.length
        : 0;
      // an endpoint deleted since the list was read gets none: the rest are still recorded
      const recorded = await store.record(
        clientId,
        chunk.map(({ body: _, ...row }, i) =>
          i < claimed ? { ...row, locked_until: lockedUntil } : row
        ),
      );
      chunk.forEach((r, i) => {
        if (!recorded.has(r.id)) return;
        jobs.push({
          kind: "webhook_delivery" as const,
          clientId,
          deliveryId: r.id,
          ...(i < claimed
            ? { claimed: { endpointId: r.endpoint_id, eventId: r.event_id, body: r.body } }
            : {}),
        });
      });
    };
    for (const { event, endpointIds } of events) {
      // one id per event, shared by its deliveries to every endpoint and by every retry
      const eventId = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
      const body = JSON.stringify({
        type: event.type,
        timestamp: new Date(deps.now()).toISOString(),
        data: event.data,
      });
      for (const endpointId of endpointIds) {
        const id = crypto.randomUUID();
        rows.push(
          encryptField(key, body, `webhook_delivery:${id}`).then((payload_ciphertext) => ({
            id,
            client_id: clientId,
            endpoint_id: endpointId,
            event_id: eventId,
            event_type: event.type,
            payload_ciphertext,
            body,
          })),
        );
      }
      if (rows.length >= RECORD_CHUNK) await flush();
    }
    await flush();
    return jobs;
  }

  /** One POST; the error (never the body) describes a failure. */
  async function attempt(
    target: URL,
    message: { id: string; body: string; secret: CryptoKey },
  ): Promise<{ status: number | null; error: string | null }> {
    const timestamp = Math.floor(deps.now() / 1000);
    try {
      const status = await egress.post(target, {
        // one deadline for the lookup, the connection and the answer
        signal: AbortSignal.timeout(deps.timeoutMs ?? DELIVERY_TIMEOUT_MS),
        headers: {
          "content-type": "application/json",
          "user-agent": USER_AGENT,
          [WEBHOOK_HEADERS.id]: message.id,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: await signStandardWebhook({ ...message, timestamp }),
        },
        body: message.body,
      });
      const ok = status >= 200 && status < 300;
      return { status, error: ok ? null : `HTTP ${status}` };
    } catch (error) {
      if (error instanceof RefusedTarget) return { status: null, error: error.message };
      const name = (error as Error).name;
      return {
        status: null,
        error: name === "TimeoutError" || name === "AbortError" ? "Timed out" : "Connection failed",
      };
    }
  }

  /**
   * Whether a client may register `raw`: its shape, then in production what its host resolves
   * to now (the attempts check again: a name can change after registration).
   */
  async function checkUrl(raw: string): Promise<UrlCheck> {
    const shape = checkWebhookUrl(raw, { allowPrivate: deps.allowPrivate });
    if (!shape.ok || deps.allowPrivate) return shape;
    const refused = await egress.vet(shape.url, AbortSignal.timeout(VET_TIMEOUT_MS))
      .catch(() => RESOLUTION_REFUSALS.failed);
    return refused ? { ok: false, reason: refused } : shape;
  }

  /**
   * The delivery an attempt is for, with its body: from its job when it was written claimed (the
   * endpoint read fresh), else claimed now and its body decrypted. Null when there is nothing to
   * attempt (not due, finished, held by another attempt, or its endpoint deleted).
   */
  async function attemptFor(
    job: { clientId: string; deliveryId: string; claimed?: ClaimedWebhookDelivery },
  ): Promise<
    {
      delivery: Omit<ClaimedDelivery, "payload_ciphertext">;
      body: (dataKey: CryptoKey) => Promise<string>;
    } | null
  > {
    const recorded = job.claimed;
    if (recorded) {
      // read fresh, with the others of its client in one call (the store's group commit)
      const endpoint = await store.endpointForDelivery(job.clientId, recorded.endpointId);
      if (!endpoint) return null;
      return {
        delivery: {
          id: job.deliveryId,
          endpoint_id: recorded.endpointId,
          event_id: recorded.eventId,
          attempts: 0,
          endpoint,
        },
        body: () => Promise.resolve(recorded.body),
      };
    }
    const claimed = await store.claim(job.clientId, job.deliveryId);
    if (!claimed) return null;
    return {
      delivery: claimed,
      body: (dataKey) =>
        decryptField(dataKey, claimed.payload_ciphertext, `webhook_delivery:${claimed.id}`),
    };
  }

  async function deliver(
    job: { clientId: string; deliveryId: string; claimed?: ClaimedWebhookDelivery },
  ): Promise<DeliveryResult> {
    const next = await attemptFor(job);
    if (!next) return { outcome: "skipped" };
    const claimed = next.delivery;
    if (!claimed.endpoint.enabled) {
      await store.cancel(job.clientId, claimed.id);
      return { outcome: "cancelled" };
    }

    // checked at every attempt, not only at registration: the rules may have tightened since
    const target = checkWebhookUrl(claimed.endpoint.url, { allowPrivate: deps.allowPrivate });
    let result: { status: number | null; error: string | null };
    if (!target.ok) result = { status: null, error: `The URL ${target.reason}` };
    else {
      const key = await deps.dataKeys.forClient(job.clientId);
      const body = await unlessUnreadable(next.body(key));
      if (body === null) {
        // a body that does not open never will (written past the API, or a bug): it goes alone,
        // for good, instead of failing its batch at every sweep
        await store.cancel(job.clientId, claimed.id);
        deps.logger.error("webhook_delivery_unreadable", {
          client_id: job.clientId,
          delivery_id: claimed.id,
        });
        return { outcome: "cancelled" };
      }
      const secret = await unlessUnreadable(
        signingKey(key, claimed.endpoint_id, claimed.endpoint.secret_ciphertext),
      );
      result = secret === null
        ? { status: null, error: "The endpoint's signing secret cannot be read: rotate it" }
        : await attempt(target.url, { id: claimed.event_id, body, secret });
    }

    const succeeded = result.error === null;
    const gone = result.status === 410;
    const wait = succeeded || gone ? undefined : schedule[claimed.attempts];
    const retryInMs = wait === undefined ? null : Math.round(wait * (0.8 + Math.random() * 0.4));
    // concurrent attempts of one client are finished in one call (the store's group commit)
    const finished = await store.finish(job.clientId, {
      deliveryId: claimed.id,
      succeeded,
      statusCode: result.status,
      error: result.error,
      retryInMs,
      gone,
      disableAfterMs: rules.afterMs,
      disableAfterFailures: rules.afterFailures,
      failuresOverMs: rules.failuresOverMs,
    });
    if (succeeded) return { outcome: "succeeded", status: result.status! };

    const endpointDisabled = finished?.disabled === true;
    if (endpointDisabled) {
      subscriptions.forget(job.clientId);
      await deps.audit.record({
        clientId: job.clientId,
        actor: "system:webhooks",
        action: "webhook_endpoint.disabled",
        targetType: "webhook_endpoint",
        targetId: claimed.endpoint_id,
        details: { reason: finished?.reason ?? null, last_error: result.error },
      });
      deps.logger.warn("webhook_endpoint_disabled", {
        client_id: job.clientId,
        endpoint_id: claimed.endpoint_id,
        last_error: result.error,
      });
    } else if (retryInMs !== null) {
      // a retry claims the row again (and reads the body from it), like any job without a claim
      await deps.doorbell.ring([{
        kind: "webhook_delivery",
        clientId: job.clientId,
        deliveryId: job.deliveryId,
      }], { delayMs: retryInMs });
    }
    return {
      outcome: retryInMs === null ? "failed" : "retrying",
      status: result.status,
      error: result.error!,
      endpointDisabled,
    };
  }

  const publisher: EventPublisher = {
    async publish(events) {
      const byClient = new Map<string, Array<{ event: ClientEvent; endpointIds: string[] }>>();
      for (const event of events) {
        const endpointIds = await subscribed(event.clientId, event.type);
        if (!endpointIds.length) continue;
        let list = byClient.get(event.clientId);
        if (!list) byClient.set(event.clientId, list = []);
        list.push({ event, endpointIds });
      }
      const jobs: Job[] = [];
      // one at a time, not spread: a batch may publish more events than a call takes arguments
      for (const [clientId, list] of byClient) {
        for (const job of await record(clientId, list)) jobs.push(job);
      }
      return jobs;
    },
  };

  return {
    publisher,
    deliver,
    due: async (limit: number): Promise<Job[]> =>
      (await store.due(limit)).map((r) => ({
        kind: "webhook_delivery" as const,
        clientId: r.client_id,
        deliveryId: r.id,
      })),
    /** A `webhook.test` event to one endpoint only, whatever it subscribes to. */
    sendTest: (clientId: string, endpointId: string) =>
      record(clientId, [{
        event: { clientId, type: "webhook.test", data: { endpoint_id: endpointId } },
        endpointIds: [endpointId],
      }]),
    checkUrl,
    /** Drops the cached endpoint list after the client changed its endpoints. */
    forget: (clientId: string) => subscriptions.forget(clientId),
  };
}

export type ClientWebhooks = ReturnType<typeof clientWebhooks>;

/** The value, or null when it is a ciphertext that does not open (any other failure is thrown). */
function unlessUnreadable<T>(value: Promise<T>): Promise<T | null> {
  return value.catch((error) => {
    if (error instanceof DecryptionError) return null;
    throw error;
  });
}
