/**
 * Client webhook endpoints and their deliveries. Every call runs under the named client's
 * row-level security, except `due`, which sweeps across tenants. Secrets and payloads come and go
 * as ciphertext: encryption is the caller's job. Claims, endpoint reads for claimed deliveries
 * and finished attempts of one client that arrive together share one round trip (group commit).
 */
export interface WebhookEndpointStore {
  /** null when the client already has as many endpoints as it may */
  create(clientId: string, input: NewWebhookEndpoint): Promise<WebhookEndpointRecord | null>;
  list(clientId: string): Promise<WebhookEndpointRecord[]>;
  get(clientId: string, id: string): Promise<WebhookEndpointRecord | null>;
  /**
   * Applies `changes`; turning an endpoint back on clears its failure record, turning it off
   * records who did. Null when there is no such endpoint for this client.
   */
  update(
    clientId: string,
    id: string,
    changes: EndpointChanges & { secret_ciphertext?: string },
    now?: Date,
  ): Promise<WebhookEndpointRecord | null>;
  /** deletes the endpoint and (by cascade) its deliveries; false when there was none */
  remove(clientId: string, id: string): Promise<boolean>;
  deliveries(clientId: string, endpointId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /**
   * Puts the endpoint's failed and cancelled deliveries created since `since` back to pending,
   * due now, oldest first, at most `max`; their ids.
   */
  recover(clientId: string, endpointId: string, since: Date, max: number): Promise<string[]>;
  /** what an attempt needs from an endpoint, read fresh; null when it is gone */
  endpointForDelivery(clientId: string, endpointId: string): Promise<DeliveryEndpoint | null>;
  /** records deliveries; the ids recorded (those whose endpoint still exists) */
  record(clientId: string, rows: NewWebhookDelivery[]): Promise<Set<string>>;
  /** claims a pending, due delivery with a lease; null when there is nothing to attempt */
  claim(clientId: string, deliveryId: string): Promise<ClaimedDelivery | null>;
  cancel(clientId: string, deliveryId: string): Promise<void>;
  /** records an attempt's outcome: whether it disabled the endpoint, and why */
  finish(
    clientId: string,
    attempt: WebhookAttempt,
  ): Promise<{ disabled: boolean; reason?: string } | null>;
  /** cross-tenant (sweeper): pending deliveries due, in turns per client */
  due(limit: number): Promise<Array<{ id: string; client_id: string }>>;
}

export interface WebhookEndpointRecord {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  secretCiphertext: string;
}

export type EndpointChanges = Partial<
  Pick<WebhookEndpointRecord, "url" | "description" | "event_types" | "enabled">
>;

export interface WebhookDeliveryRecord {
  id: string;
  event_id: string;
  event_type: string;
  status: "pending" | "succeeded" | "failed" | "cancelled";
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface NewWebhookDelivery {
  id: string;
  client_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  payload_ciphertext: string;
  /** set when the row is written already claimed for an in-process first attempt */
  locked_until?: string;
}

export interface DeliveryEndpoint {
  url: string;
  secret_ciphertext: string;
  enabled: boolean;
}

/** A delivery claimed for one attempt, with what the attempt needs from its endpoint. */
export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  attempts: number;
  payload_ciphertext: string;
  endpoint: DeliveryEndpoint;
}

export interface WebhookAttempt {
  deliveryId: string;
  succeeded: boolean;
  statusCode: number | null;
  error: string | null;
  /** null: no attempt left */
  retryInMs: number | null;
  gone: boolean;
  disableAfterMs: number;
  disableAfterFailures: number;
  failuresOverMs: number;
}
