import type {
  ClaimedPluginDelivery,
  ParkedPluginDelivery,
  PluginDeliveryOutcome,
  PluginDeliveryStore,
  PluginInstallationRecord,
  PluginInstallationStore,
  PluginStateStore,
  SubscriberStore,
} from "../../ports/plugins.ts";
import { RoutingKeyTaken } from "../../ports/plugins.ts";
import { groupByKey } from "../group_calls.ts";
import { checked } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

const INSTALLATION_COLUMNS =
  "plugin_id, enabled, config, secrets_ciphertext, routing_key, created_at, updated_at";

/** Plugin installations in PostgREST: reads under the client's RLS, writes as the service role. */
export function pluginInstallationStore(db: DatabaseAccess): PluginInstallationStore {
  return {
    async list(clientId) {
      return checked(
        await db.forClient(clientId).from("plugin_installations").select(INSTALLATION_COLUMNS)
          .order("plugin_id"),
        "Could not list plugin installations",
      ) as PluginInstallationRecord[];
    },
    async get(clientId, pluginId) {
      return checked(
        await db.forClient(clientId).from("plugin_installations").select(INSTALLATION_COLUMNS)
          .eq("plugin_id", pluginId).maybeSingle(),
        "Could not read the plugin installation",
      ) as PluginInstallationRecord | null;
    },
    async save(clientId, installation, audit) {
      const { data, error } = await db.service.rpc("save_plugin_installation", {
        installation: { ...installation, client_id: clientId },
        audit: {
          actor: audit.actor,
          action: audit.action,
          details: audit.details ?? {},
          request_id: audit.requestId ?? null,
        },
      });
      if (error?.code === "23505" && error.message.includes("routing_key")) {
        throw new RoutingKeyTaken();
      }
      return checked({ data, error }, "Could not save the plugin installation") as {
        created: boolean;
        installation: PluginInstallationRecord;
      };
    },
    async remove(clientId, pluginId, audit) {
      return checked(
        await db.service.rpc("delete_plugin_installation", {
          client: clientId,
          plugin: pluginId,
          audit: { actor: audit.actor, request_id: audit.requestId ?? null },
        }),
        "Could not remove the plugin installation",
      ) as boolean;
    },
    async byRoutingKey(pluginId, routingKey) {
      return checked(
        await db.service.from("plugin_installations")
          .select(`client_id, ${INSTALLATION_COLUMNS}`)
          .eq("plugin_id", pluginId).eq("routing_key", routingKey).maybeSingle(),
        "Could not look up the routing key",
      ) as (PluginInstallationRecord & { client_id: string }) | null;
    },
  };
}

/** Who hears a client's events, in one call (public.event_subscribers). */
export function subscriberStore(db: DatabaseAccess): SubscriberStore {
  return {
    async forClient(clientId) {
      const { data, error } = await db.forClient(clientId).rpc("event_subscribers");
      if (error) throw new Error(`Could not list event subscribers: ${error.message}`);
      return data;
    },
  };
}

/**
 * Plugin deliveries in PostgREST. Claims and finishes of one client that arrive within 2 ms share
 * one call, up to `maxBatch` (1 on Workers).
 */
export function pluginDeliveryStore(
  db: DatabaseAccess,
  options: { maxBatch?: number } = {},
): PluginDeliveryStore {
  const grouping = { maxBatch: options.maxBatch };
  const claim = groupByKey<{ id: string; lease: number }, ClaimedPluginDelivery | null>(
    async (clientId, items) => {
      // one lease for the batch: every caller asks for the same (the handler timeout's)
      const lease = Math.max(...items.map((i) => i.lease));
      return checked(
        await db.forClient(clientId).rpc("claim_plugin_deliveries", {
          delivery_ids: items.map((i) => i.id),
          lease_seconds: lease,
        }),
        "Could not claim plugin deliveries",
      ) as Array<ClaimedPluginDelivery | null>;
    },
    grouping,
  );
  const finish = groupByKey<{ id: string; outcome: PluginDeliveryOutcome }, null>(
    async (clientId, items) => {
      checked(
        await db.forClient(clientId).rpc("finish_plugin_deliveries", {
          results: items.map(({ id, outcome }) => ({
            id,
            outcome: outcome.outcome,
            error: "error" in outcome ? outcome.error : null,
            retry_in_ms: "retryInMs" in outcome ? outcome.retryInMs : null,
          })),
        }),
        "Could not finish plugin deliveries",
      );
      return items.map(() => null);
    },
    grouping,
  );
  return {
    async record(clientId, rows) {
      if (!rows.length) return [];
      const recorded = checked(
        await db.forClient(clientId).from("plugin_deliveries")
          .insert(rows.map((r) => ({ ...r, client_id: clientId }))).select("id"),
        "Could not record plugin deliveries",
      ) as Array<{ id: string }>;
      return recorded.map((r) => r.id);
    },
    claim: (clientId, id, lease) => claim(clientId, { id, lease }),
    finish: async (clientId, id, outcome) => void await finish(clientId, { id, outcome }),
    async parked(clientId, pluginId, limit) {
      return checked(
        await db.forClient(clientId).from("plugin_deliveries")
          .select("id, event_type, attempts, last_error, created_at, finished_at")
          .eq("plugin_id", pluginId).eq("status", "parked")
          .order("created_at", { ascending: false }).limit(limit),
        "Could not list parked plugin events",
      ) as ParkedPluginDelivery[];
    },
    async retryParked(clientId, pluginId) {
      return checked(
        await db.forClient(clientId).rpc("retry_parked_plugin_deliveries", { plugin: pluginId }),
        "Could not retry parked plugin events",
      ) as string[];
    },
    async due(limit) {
      return checked(
        await db.service.rpc("due_plugin_deliveries", { max_rows: limit }),
        "Sweep of plugin deliveries failed",
      ) as Array<{ id: string; client_id: string }>;
    },
    async recordTicks(schedules, limit) {
      if (!schedules.length) return [];
      return checked(
        await db.service.rpc("record_plugin_ticks", { schedules, max_rows: limit }),
        "Could not record scheduled plugin runs",
      ) as Array<{ id: string; client_id: string }>;
    },
  };
}

/** Plugin state in PostgREST, under the client's RLS. */
export function pluginStateStore(db: DatabaseAccess): PluginStateStore {
  return {
    async get(clientId, pluginId, key) {
      const row = checked(
        await db.forClient(clientId).from("plugin_state").select("value")
          .eq("plugin_id", pluginId).eq("key", key).maybeSingle(),
        "Could not read plugin state",
      ) as { value: unknown } | null;
      return row?.value ?? null;
    },
    async set(clientId, pluginId, key, value) {
      checked(
        await db.forClient(clientId).from("plugin_state").upsert(
          { client_id: clientId, plugin_id: pluginId, key, value },
          { onConflict: "client_id,plugin_id,key" },
        ),
        "Could not write plugin state",
      );
    },
    async delete(clientId, pluginId, key) {
      checked(
        await db.forClient(clientId).from("plugin_state").delete()
          .eq("plugin_id", pluginId).eq("key", key),
        "Could not delete plugin state",
      );
    },
  };
}
