import type * as z from "zod";
import { decryptField, encryptField } from "../../core/crypto/envelope.ts";
import { AppError, notFound } from "../../core/errors.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import { PLUGIN_EVENT_TYPES } from "../../plugin_api/events.ts";
import {
  type ParkedPluginDelivery,
  type PluginInstallationRecord,
  RoutingKeyTaken,
} from "../../ports/plugins.ts";
import type { SubscriptionCache } from "../subscriptions.ts";
import { pluginContext } from "./context.ts";
import { type HostDeps, secretsContext, withDeadline } from "./runner.ts";

/** a routing key's verification talks to the plugin's upstream: bounded like a handler call */
const VERIFY_TIMEOUT_MS = 10_000;
const PARKED_SHOWN = 20;
const MAX_SECRET_LENGTH = 4096;

export interface PluginSummary {
  id: string;
  name: string;
  version: string;
  description: string | null;
  enabled_by_default: boolean;
  events: string[];
  secrets: string[];
  /** the config a client may send, as JSON Schema */
  config_schema: Record<string, unknown>;
  /** whether it is on for this client, and with which config */
  enabled: boolean;
  installed: boolean;
}

export interface InstallationView {
  enabled: boolean;
  /** false: the client never configured it (a plugin on by default runs with its defaults) */
  installed: boolean;
  config: unknown;
  /** which secrets are set; their values never leave the server */
  secrets: Record<string, boolean>;
  routing_key: string | null;
  created_at: string | null;
  updated_at: string | null;
  /** the latest events whose handler failed on every attempt, with their errors */
  parked: ParkedPluginDelivery[];
}

export interface InstallationChange {
  enabled?: boolean;
  config?: Record<string, unknown>;
  /** a value sets a secret, null removes it; names the plugin does not declare are refused */
  secrets?: Record<string, string | null>;
}

type ManageDeps = HostDeps & { subscriptions: SubscriptionCache };

function summary(deps: ManageDeps, plugin: Plugin, row: PluginInstallationRecord | undefined) {
  return {
    id: plugin.id,
    name: plugin.name,
    version: plugin.version,
    description: plugin.description ?? null,
    enabled_by_default: plugin.enabledByDefault === true,
    events: PLUGIN_EVENT_TYPES.filter((t) => plugin.on?.[t] !== undefined),
    secrets: [...plugin.secrets ?? []],
    config_schema: deps.registry.configSchema(plugin.id),
    enabled: row ? row.enabled : plugin.enabledByDefault === true,
    installed: row !== undefined,
  } satisfies PluginSummary;
}

function found(deps: ManageDeps, id: string): Plugin {
  const plugin = deps.registry.get(id);
  if (!plugin) throw notFound("Plugin");
  return plugin;
}

/** Every registered plugin, with whether it is on for the client. */
export async function listPlugins(deps: ManageDeps, clientId: string): Promise<PluginSummary[]> {
  const rows = new Map((await deps.plugins.list(clientId)).map((r) => [r.plugin_id, r]));
  return deps.registry.list.map((p) => summary(deps, p, rows.get(p.id)));
}

/** One plugin with the client's installation of it (404 for a plugin the registry lacks). */
export async function getPlugin(deps: ManageDeps, clientId: string, id: string) {
  const plugin = found(deps, id);
  const row = await deps.plugins.get(clientId, id) ?? undefined;
  const secrets = row?.secrets_ciphertext ? await readSecrets(deps, clientId, plugin, row) : {};
  const installation: InstallationView = {
    enabled: row ? row.enabled : plugin.enabledByDefault === true,
    installed: row !== undefined,
    config: row ? row.config : plugin.enabledByDefault ? deps.registry.defaults(id) : null,
    secrets: Object.fromEntries((plugin.secrets ?? []).map((s) => [s, s in secrets])),
    routing_key: row?.routing_key ?? null,
    created_at: row?.created_at ?? null,
    updated_at: row?.updated_at ?? null,
    parked: await deps.pluginDeliveries.parked(clientId, id, PARKED_SHOWN),
  };
  return { plugin: summary(deps, plugin, row), installation };
}

async function readSecrets(
  deps: ManageDeps,
  clientId: string,
  plugin: Plugin,
  row: PluginInstallationRecord,
): Promise<Record<string, string>> {
  if (!row.secrets_ciphertext) return {};
  return JSON.parse(
    await decryptField(
      await deps.dataKeys.forClient(clientId),
      row.secrets_ciphertext,
      secretsContext(clientId, plugin.id),
    ),
  );
}

const invalid = (details: Array<{ path: string; message: string }>) =>
  new AppError(400, "invalid_request", "The request does not match the schema", { details });

/**
 * Installs, configures, enables or disables a plugin for a client: the config is validated
 * against the plugin's schema (a 400 names each bad field), secrets are merged, encrypted and
 * never returned, a routing key the config names is verified by the plugin before it is claimed,
 * and the change is saved with its audit record in one transaction.
 */
export async function configurePlugin(
  deps: ManageDeps,
  clientId: string,
  id: string,
  change: InstallationChange,
  who: { actor: string; requestId?: string },
) {
  const plugin = found(deps, id);
  const row = await deps.plugins.get(clientId, id);

  const input = change.config ?? (row ? row.config : {});
  const parsed = (plugin.config as z.ZodType).safeParse(input);
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map((i) => ({
      path: ["config", ...i.path].map(String).join("."),
      message: i.message,
    })));
  }
  const config = parsed.data;

  const declared = new Set(plugin.secrets ?? []);
  const problems: Array<{ path: string; message: string }> = [];
  for (const [name, value] of Object.entries(change.secrets ?? {})) {
    if (!declared.has(name)) {
      problems.push({ path: `secrets.${name}`, message: "Not a secret of this plugin" });
    } else if (value !== null && (value.length < 1 || value.length > MAX_SECRET_LENGTH)) {
      problems.push({
        path: `secrets.${name}`,
        message: `Must be 1 to ${MAX_SECRET_LENGTH} characters, or null to remove it`,
      });
    }
  }
  if (problems.length) throw invalid(problems);
  const secrets = row ? await readSecrets(deps, clientId, plugin, row) : {};
  for (const [name, value] of Object.entries(change.secrets ?? {})) {
    if (value === null) delete secrets[name];
    else secrets[name] = value;
  }

  const routingKey = plugin.routingKey?.fromConfig(config) ?? null;
  if (routingKey !== null && routingKey !== row?.routing_key && plugin.routingKey?.verify) {
    const verify = plugin.routingKey.verify;
    let reason: string | null;
    try {
      reason = await withDeadline(VERIFY_TIMEOUT_MS, (signal) =>
        verify(
          routingKey,
          pluginContext(deps, plugin, clientId, {
            config,
            secrets,
            signal,
            sendKey: `verify:${crypto.randomUUID()}`,
          }),
        ));
    } catch (error) {
      reason = `the check failed (${(error as Error).message})`;
    }
    if (reason !== null) {
      throw new AppError(
        422,
        "plugin_verification_failed",
        `${plugin.name} could not confirm the routing key ${routingKey}: ${reason}`,
      );
    }
  }

  const enabled = change.enabled ?? row?.enabled ?? true;
  const key = await deps.dataKeys.forClient(clientId);
  try {
    await deps.plugins.save(clientId, {
      plugin_id: id,
      enabled,
      config,
      secrets_ciphertext: Object.keys(secrets).length
        ? await encryptField(key, JSON.stringify(secrets), secretsContext(clientId, id))
        : null,
      routing_key: routingKey,
    }, {
      actor: who.actor,
      action: row ? "plugin.updated" : "plugin.installed",
      requestId: who.requestId,
      // what changed, never a secret's value
      details: {
        enabled,
        config_changed: change.config !== undefined,
        secrets_changed: Object.keys(change.secrets ?? {}),
        routing_key: routingKey,
      },
    });
  } catch (error) {
    if (error instanceof RoutingKeyTaken) {
      throw new AppError(
        409,
        "plugin_routing_key_taken",
        `Another installation of ${plugin.name} already holds ${routingKey}`,
      );
    }
    throw error;
  }
  deps.subscriptions.forget(clientId);
  return await getPlugin(deps, clientId, id);
}

/** Removes the client's installation (config, secrets, state, pending events), audited. */
export async function removePlugin(
  deps: ManageDeps,
  clientId: string,
  id: string,
  who: { actor: string; requestId?: string },
) {
  found(deps, id);
  await deps.plugins.remove(clientId, id, who);
  deps.subscriptions.forget(clientId);
  return await getPlugin(deps, clientId, id);
}

/** Puts the plugin's parked events back in line, due now; their ids. */
export async function retryParked(deps: ManageDeps, clientId: string, id: string) {
  found(deps, id);
  const ids = await deps.pluginDeliveries.retryParked(clientId, id);
  if (ids.length) {
    await deps.doorbell.ring(
      ids.map((deliveryId) => ({ kind: "plugin_event" as const, clientId, deliveryId })),
    );
  }
  return ids;
}
