import type { Logger } from "../ports/logger.ts";
import type { EventSubscribers, SubscriberStore } from "../ports/plugins.ts";
import type { PluginRegistry } from "./plugins/registry.ts";

/** How long a client's subscribers are reused: every inbound message and status publishes. */
const TTL_MS = 5_000;

/** A client's subscribers, with each plugin's config as its schema parsed it. */
export interface ClientSubscribers {
  endpoints: EventSubscribers["endpoints"];
  /** the config of each plugin that is on for this client (installed and enabled, or on by default) */
  plugins: ReadonlyMap<string, unknown>;
}

/**
 * Who hears each client's events (its enabled webhook endpoints, and the plugins on for it), one
 * store call per client per few seconds, shared by the webhook publisher and the plugin fan-out
 * so that both cost the one lookup the webhook publisher made alone before.
 */
export function subscriptionCache(
  deps: {
    subscribers: SubscriberStore;
    registry: PluginRegistry;
    logger: Logger;
    now: () => number;
  },
) {
  const cache = new Map<string, { value: Promise<ClientSubscribers>; until: number }>();

  async function load(clientId: string): Promise<ClientSubscribers> {
    const found = await deps.subscribers.forClient(clientId);
    const plugins = new Map<string, unknown>();
    const installed = new Set<string>();
    for (const row of found.plugins) {
      installed.add(row.plugin_id);
      const plugin = deps.registry.get(row.plugin_id);
      if (!plugin || !row.enabled) continue;
      const parsed = plugin.config.safeParse(row.config);
      if (parsed.success) plugins.set(row.plugin_id, parsed.data);
      // a config saved under an older version the new schema refuses: the plugin stays off for
      // this client until it is saved again, rather than run on a config nobody checked
      else {
        deps.logger.error("plugin_config_invalid", { client_id: clientId, plugin: plugin.id });
      }
    }
    for (const plugin of deps.registry.list) {
      if (plugin.enabledByDefault && !installed.has(plugin.id)) {
        plugins.set(plugin.id, deps.registry.defaults(plugin.id));
      }
    }
    return { endpoints: found.endpoints, plugins };
  }

  return {
    forClient(clientId: string): Promise<ClientSubscribers> {
      const hit = cache.get(clientId);
      if (hit && hit.until > deps.now()) return hit.value;
      const value = load(clientId);
      value.catch(() => {
        if (cache.get(clientId)?.value === value) cache.delete(clientId);
      });
      if (cache.size > 10_000) cache.clear();
      cache.set(clientId, { value, until: deps.now() + TTL_MS });
      return value;
    },
    /** after the client changed its endpoints or plugins: the next event reads them afresh */
    forget(clientId: string) {
      cache.delete(clientId);
    },
  };
}

export type SubscriptionCache = ReturnType<typeof subscriptionCache>;
