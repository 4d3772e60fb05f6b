import type { AuditEntry } from "./audit.ts";

/** A client's installation of a plugin (public.plugin_installations). */
export interface PluginInstallationRecord {
  plugin_id: string;
  enabled: boolean;
  /** as saved: the config the plugin's schema accepted */
  config: unknown;
  /** the secrets as one JSON object, encrypted with the client's data key; null: none */
  secrets_ciphertext: string | null;
  routing_key: string | null;
  created_at: string;
  updated_at: string;
}

/** The routing key is another client's already (unique per plugin). */
export class RoutingKeyTaken extends Error {
  constructor() {
    super("The routing key belongs to another installation");
    this.name = "RoutingKeyTaken";
  }
}

/**
 * Plugin installations. Reads run under the named client's row-level security; writes go through
 * the service role (public.save_plugin_installation), because routing keys are unique across
 * clients and only the API, after the plugin's verification, may claim one.
 */
export interface PluginInstallationStore {
  list(clientId: string): Promise<PluginInstallationRecord[]>;
  get(clientId: string, pluginId: string): Promise<PluginInstallationRecord | null>;
  /** throws RoutingKeyTaken; the audit record is written in the same transaction */
  save(
    clientId: string,
    installation: {
      plugin_id: string;
      enabled: boolean;
      config: unknown;
      secrets_ciphertext: string | null;
      routing_key: string | null;
    },
    audit: Omit<AuditEntry, "clientId" | "targetType" | "targetId">,
  ): Promise<{ created: boolean; installation: PluginInstallationRecord }>;
  /** removes the installation, its state and its pending events; whether there was one */
  remove(
    clientId: string,
    pluginId: string,
    audit: Pick<AuditEntry, "actor" | "requestId">,
  ): Promise<boolean>;
  /** cross-tenant: the installation (and its client) a routing key names */
  byRoutingKey(
    pluginId: string,
    routingKey: string,
  ): Promise<(PluginInstallationRecord & { client_id: string }) | null>;
}

/** Who hears a client's events: its enabled webhook endpoints and its plugin installations. */
export interface EventSubscribers {
  endpoints: Array<{ id: string; event_types: string[] }>;
  plugins: Array<{ plugin_id: string; enabled: boolean; config: unknown }>;
}

export interface SubscriberStore {
  /** one call, under the client's row-level security */
  forClient(clientId: string): Promise<EventSubscribers>;
}

/** A plugin delivery to record, its payload already encrypted (none for a scheduled run). */
export interface NewPluginDelivery {
  id: string;
  plugin_id: string;
  event_type: string;
  payload_ciphertext: string | null;
}

export interface ClaimedPluginDelivery {
  id: string;
  plugin_id: string;
  event_type: string;
  payload_ciphertext: string | null;
  /** this call included */
  attempts: number;
  created_at: string;
}

export type PluginDeliveryOutcome =
  | { outcome: "succeeded" | "cancelled" }
  | { outcome: "retry"; error: string; retryInMs: number }
  | { outcome: "parked"; error: string };

export interface ParkedPluginDelivery {
  id: string;
  event_type: string;
  attempts: number;
  last_error: string | null;
  created_at: string;
  finished_at: string | null;
}

/**
 * Core events on their way to plugins (public.plugin_deliveries), under the named client's
 * row-level security; the sweep-side calls cross tenants. Claims and finishes of one client that
 * arrive together share one round trip.
 */
export interface PluginDeliveryStore {
  record(clientId: string, rows: NewPluginDelivery[]): Promise<string[]>;
  claim(
    clientId: string,
    deliveryId: string,
    leaseSeconds: number,
  ): Promise<ClaimedPluginDelivery | null>;
  finish(clientId: string, deliveryId: string, outcome: PluginDeliveryOutcome): Promise<void>;
  /** the plugin's parked events, newest first */
  parked(clientId: string, pluginId: string, limit: number): Promise<ParkedPluginDelivery[]>;
  /** puts the plugin's parked events back to pending, due now; their ids */
  retryParked(clientId: string, pluginId: string): Promise<string[]>;
  /** cross-tenant (sweeper): pending deliveries due, in turns per client */
  due(limit: number): Promise<Array<{ id: string; client_id: string }>>;
  /** cross-tenant: one `schedule` delivery per enabled installation whose run is due */
  recordTicks(
    schedules: Array<{ plugin_id: string; every_seconds: number }>,
    limit: number,
  ): Promise<Array<{ id: string; client_id: string }>>;
}

/** What a plugin keeps per client: small JSON values by key, under the client's RLS. */
export interface PluginStateStore {
  get(clientId: string, pluginId: string, key: string): Promise<unknown | null>;
  set(clientId: string, pluginId: string, key: string, value: unknown): Promise<void>;
  /** writes `value` unless the key holds one already; answers the value the key now holds */
  claim(clientId: string, pluginId: string, key: string, value: unknown): Promise<unknown>;
  delete(clientId: string, pluginId: string, key: string): Promise<void>;
}

/** A plugin's journal entry (public.plugin_journal): what it did about one business key. */
export interface JournalRecord {
  key: string;
  kind: string;
  outcome: "pending" | "sent" | "suppressed" | "done";
  reason: string | null;
  subject: string | null;
  recipient: string | null;
  message_id: string | null;
  version: number | null;
  data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** An entry as listed: with the current status of the message it sent. */
export type JournalListing = Omit<JournalRecord, "version"> & { message_status: string | null };

export interface NewJournalEntry {
  key: string;
  kind: string;
  subject?: string | null;
  recipient?: string | null;
  data?: Record<string, unknown>;
  outcome?: JournalRecord["outcome"];
  reason?: string | null;
  message_id?: string | null;
}

/**
 * Plugin journals, under the named client's row-level security. `claim` and `advance` are one
 * statement each (public.plugin_journal_claim, plugin_journal_advance), so concurrent events of
 * one business key or resource agree on who was first and which version is newest.
 */
export interface PluginJournalStore {
  claim(
    clientId: string,
    pluginId: string,
    entry: NewJournalEntry,
  ): Promise<{ created: boolean; entry: JournalRecord }>;
  get(clientId: string, pluginId: string, key: string): Promise<JournalRecord | null>;
  settle(
    clientId: string,
    pluginId: string,
    key: string,
    outcome: {
      outcome: JournalRecord["outcome"];
      reason: string | null;
      message_id: string | null;
      recipient?: string | null;
    },
  ): Promise<void>;
  /** the version stored after this call: the greater of the stored one and `version` */
  advance(
    clientId: string,
    pluginId: string,
    key: string,
    kind: string,
    version: number,
  ): Promise<number>;
  recent(
    clientId: string,
    pluginId: string,
    options: { kinds: readonly string[] | null; limit: number; before: string | null },
  ): Promise<JournalListing[]>;
  summary(
    clientId: string,
    pluginId: string,
    options: { kinds: readonly string[] | null; days: number },
  ): Promise<
    Array<
      {
        day: string;
        outcome: string;
        message_status: string | null;
        reason: string | null;
        entries: number;
      }
    >
  >;
  /** every entry about one number (digits), oldest first, at most `limit` */
  about(
    clientId: string,
    pluginId: string,
    recipient: string,
    limit: number,
  ): Promise<JournalListing[]>;
  /** deletes the entries about these numbers (all of the plugin's with "all"); how many */
  forget(
    clientId: string,
    pluginId: string,
    recipients: readonly string[] | "all",
  ): Promise<number>;
}

/** A privacy request an upstream sent through a plugin (public.plugin_privacy_requests). */
export interface NewPluginPrivacyRequest {
  kind: "access" | "erasure" | "erase_all";
  reference: string;
  subject_ref: string | null;
  /** what the upstream said about the subject, encrypted with the client's data key */
  details_ciphertext: string | null;
  /** the data-subject request the privacy workflow filed for it */
  privacy_request_id?: string | null;
}

export interface PluginPrivacyRequestStore {
  /** once per reference: a redelivery records nothing twice (created false) */
  record(
    clientId: string,
    pluginId: string,
    request: NewPluginPrivacyRequest & { id: string },
  ): Promise<{ created: boolean; id: string }>;
}
