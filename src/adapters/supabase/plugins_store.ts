import type {
  ClaimedPluginDelivery,
  JournalListing,
  JournalRecord,
  ParkedPluginDelivery,
  PluginDeliveryOutcome,
  PluginDeliveryStore,
  PluginInstallationRecord,
  PluginInstallationStore,
  PluginJournalStore,
  PluginPrivacyRequestStore,
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
  async function get(clientId: string, pluginId: string, key: string) {
    const row = checked(
      await db.forClient(clientId).from("plugin_state").select("value")
        .eq("plugin_id", pluginId).eq("key", key).maybeSingle(),
      "Could not read plugin state",
    ) as { value: unknown } | null;
    return row?.value ?? null;
  }
  return {
    get,
    async set(clientId, pluginId, key, value) {
      checked(
        await db.forClient(clientId).from("plugin_state").upsert(
          { client_id: clientId, plugin_id: pluginId, key, value },
          { onConflict: "client_id,plugin_id,key" },
        ),
        "Could not write plugin state",
      );
    },
    async claim(clientId, pluginId, key, value) {
      // insert unless present, then read: two concurrent claims both answer the first value
      checked(
        await db.forClient(clientId).from("plugin_state").upsert(
          { client_id: clientId, plugin_id: pluginId, key, value },
          { onConflict: "client_id,plugin_id,key", ignoreDuplicates: true },
        ),
        "Could not write plugin state",
      );
      return await get(clientId, pluginId, key);
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

const JOURNAL_COLUMNS =
  "key, kind, outcome, reason, subject, recipient, message_id, version, data, created_at, updated_at";

/** Plugin journals in PostgREST, under the client's RLS (public.plugin_journal_*). */
export function pluginJournalStore(db: DatabaseAccess): PluginJournalStore {
  return {
    async claim(clientId, pluginId, entry) {
      return checked(
        await db.forClient(clientId).rpc("plugin_journal_claim", { plugin: pluginId, entry }),
        "Could not claim a journal entry",
      ) as { created: boolean; entry: JournalRecord };
    },
    async get(clientId, pluginId, key) {
      return checked(
        await db.forClient(clientId).from("plugin_journal").select(JOURNAL_COLUMNS)
          .eq("plugin_id", pluginId).eq("key", key).maybeSingle(),
        "Could not read a journal entry",
      ) as JournalRecord | null;
    },
    async settle(clientId, pluginId, key, outcome) {
      checked(
        await db.forClient(clientId).from("plugin_journal").update({
          outcome: outcome.outcome,
          reason: outcome.reason,
          message_id: outcome.message_id,
          ...(outcome.recipient !== undefined ? { recipient: outcome.recipient } : {}),
        }).eq("plugin_id", pluginId).eq("key", key),
        "Could not settle a journal entry",
      );
    },
    async advance(clientId, pluginId, key, kind, version) {
      return Number(checked(
        await db.forClient(clientId).rpc("plugin_journal_advance", {
          plugin: pluginId,
          entry_key: key,
          entry_kind: kind,
          version,
        }),
        "Could not advance a journal version",
      ));
    },
    async recent(clientId, pluginId, options) {
      return checked(
        await db.forClient(clientId).rpc("plugin_journal_recent", {
          plugin: pluginId,
          kinds: options.kinds,
          max_rows: options.limit,
          before: options.before,
        }),
        "Could not list journal entries",
      ) as JournalListing[];
    },
    async summary(clientId, pluginId, options) {
      const rows = checked(
        await db.forClient(clientId).rpc("plugin_journal_summary", {
          plugin: pluginId,
          kinds: options.kinds,
          days: options.days,
        }),
        "Could not summarise the journal",
      ) as Array<{
        day: string;
        outcome: string;
        message_status: string | null;
        reason: string | null;
        entries: number | string;
      }>;
      return rows.map((r) => ({ ...r, entries: Number(r.entries) }));
    },
    async about(clientId, pluginId, recipient, limit) {
      const rows = checked(
        await db.forClient(clientId).from("plugin_journal")
          .select(`${JOURNAL_COLUMNS}, message:messages(status)`)
          .eq("plugin_id", pluginId).eq("recipient", recipient)
          .order("created_at").limit(limit),
        "Could not list a number's journal entries",
        // a many-to-one embed (plugin_journal's message): one object or null
      ) as unknown as Array<JournalRecord & { message: { status: string } | null }>;
      return rows.map(({ message, version: _, ...r }) => ({
        ...r,
        message_status: message?.status ?? null,
      }));
    },
    async forget(clientId, pluginId, recipients) {
      let query = db.forClient(clientId).from("plugin_journal")
        .delete({ count: "exact" }).eq("plugin_id", pluginId);
      if (recipients !== "all") {
        if (!recipients.length) return 0;
        query = query.in("recipient", [...recipients]);
      }
      const { count, error } = await query;
      if (error) throw new Error(`Could not erase journal entries: ${error.message}`);
      return count ?? 0;
    },
  };
}

/** Privacy requests received through plugins, under the client's RLS. */
export function pluginPrivacyRequestStore(db: DatabaseAccess): PluginPrivacyRequestStore {
  return {
    async record(clientId, pluginId, request) {
      const inserted = checked(
        await db.forClient(clientId).from("plugin_privacy_requests").upsert(
          { ...request, client_id: clientId, plugin_id: pluginId },
          { onConflict: "client_id,plugin_id,reference", ignoreDuplicates: true },
        ).select("id"),
        "Could not record a privacy request",
      ) as Array<{ id: string }>;
      if (inserted.length) return { created: true, id: inserted[0].id };
      const found = checked(
        await db.forClient(clientId).from("plugin_privacy_requests").select("id")
          .eq("plugin_id", pluginId).eq("reference", request.reference).single(),
        "Could not read a privacy request",
      ) as { id: string };
      return { created: false, id: found.id };
    },
  };
}
