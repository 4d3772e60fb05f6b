import { encryptField } from "../../core/crypto/envelope.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type { CoreEvent } from "../../ports/events.ts";
import type { Job } from "../../ports/jobs.ts";
import type { NewPluginDelivery } from "../../ports/plugins.ts";
import type { ServiceDeps } from "../deps.ts";
import type { SubscriptionCache } from "../subscriptions.ts";
import type { PluginRegistry } from "./registry.ts";

/** The encrypted body of a plugin delivery: the event as the handler gets it. */
export interface PluginEventPayload {
  type: string;
  occurred_at: string;
  data: Record<string, unknown>;
}

/** The additional data a delivery's payload is bound to: it decrypts nowhere else. */
export const payloadContext = (deliveryId: string) => `plugin_delivery:${deliveryId}`;

function handlerOf(plugin: Plugin, type: string) {
  const sub = (plugin.on as Record<string, unknown> | undefined)?.[type];
  return typeof sub === "function" ? { filter: undefined } : sub as {
    filter?: (data: unknown, config: unknown) => boolean;
  };
}

/**
 * Core events on their way to plugins. `wants` is the check every event's path pays: a Set
 * lookup, nothing more, for a type no plugin subscribes to. For a type some plugin takes, the
 * client's subscribers come from the cache the webhook publisher shares, each plugin's filter runs
 * on the event with the client's config, and only the events kept are encrypted and recorded
 * (public.plugin_deliveries): one delivery per plugin and event, durable before any handler runs.
 */
export function pluginFanout(
  deps: Pick<ServiceDeps, "dataKeys" | "pluginDeliveries" | "logger" | "now"> & {
    registry: PluginRegistry;
    subscriptions: SubscriptionCache;
  },
) {
  /** the deliveries a client's events make: for each event, each plugin on for the client that keeps it */
  async function rowsFor(
    clientId: string,
    events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>,
  ): Promise<Array<NewPluginDelivery & { index: number }>> {
    const wanted = events.some((e) => deps.registry.wants(e.type));
    if (!wanted) return [];
    const on = (await deps.subscriptions.forClient(clientId)).plugins;
    const rows: Array<Promise<NewPluginDelivery & { index: number }>> = [];
    let key: CryptoKey | undefined;
    for (let index = 0; index < events.length; index++) {
      const event = events[index];
      for (const plugin of deps.registry.subscribersOf(event.type)) {
        if (!on.has(plugin.id)) continue;
        const { filter } = handlerOf(plugin, event.type);
        let keep = true;
        if (filter) {
          try {
            keep = filter(event.data, on.get(plugin.id));
          } catch (error) {
            // a filter that throws keeps the event: the handler, which may fail safely, decides
            deps.logger.warn("plugin_filter_failed", {
              plugin: plugin.id,
              event_type: event.type,
              message: (error as Error).message,
            });
          }
        }
        if (!keep) continue;
        key ??= await deps.dataKeys.forClient(clientId);
        const id = crypto.randomUUID();
        const payload: PluginEventPayload = {
          type: event.type,
          occurred_at: new Date(deps.now()).toISOString(),
          data: event.data,
        };
        rows.push(
          encryptField(key, JSON.stringify(payload), payloadContext(id)).then((ciphertext) => ({
            id,
            index,
            plugin_id: plugin.id,
            event_type: event.type,
            payload_ciphertext: ciphertext,
          })),
        );
      }
    }
    return await Promise.all(rows);
  }

  return {
    wants: (type: string) => deps.registry.wants(type),
    rowsFor,
    /** records the plugin deliveries of `events` and answers their jobs */
    async record(events: ReadonlyArray<CoreEvent>): Promise<Job[]> {
      const byClient = new Map<string, CoreEvent[]>();
      for (const event of events) {
        if (event.pluginsRecorded || !deps.registry.wants(event.type)) continue;
        let list = byClient.get(event.clientId);
        if (!list) byClient.set(event.clientId, list = []);
        list.push(event);
      }
      const jobs: Job[] = [];
      for (const [clientId, list] of byClient) {
        const rows = await rowsFor(clientId, list);
        if (!rows.length) continue;
        const ids = await deps.pluginDeliveries.record(
          clientId,
          rows.map(({ index: _, ...row }) => row),
        );
        for (const deliveryId of ids) jobs.push({ kind: "plugin_event", clientId, deliveryId });
      }
      return jobs;
    },
  };
}

export type PluginFanout = ReturnType<typeof pluginFanout>;
