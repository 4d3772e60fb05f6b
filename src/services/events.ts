import type { CoreEvent, EventPublisher } from "../ports/events.ts";
import type { PluginFanout } from "./plugins/fanout.ts";

/**
 * Core events to everyone who hears them: the client's webhook endpoints, then the plugins
 * subscribed to the event type. An event type no plugin takes costs the plugin side a Set lookup.
 */
export function eventPublisher(webhooks: EventPublisher, plugins: PluginFanout): EventPublisher {
  return {
    async publish(events: ReadonlyArray<CoreEvent>) {
      const jobs = await webhooks.publish(events);
      if (events.some((e) => !e.pluginsRecorded && plugins.wants(e.type))) {
        for (const job of await plugins.record(events)) jobs.push(job);
      }
      return jobs;
    },
  };
}
