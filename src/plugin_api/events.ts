import type { ClientEventData } from "../core/webhooks/client_events.ts";

/**
 * The core events a plugin can subscribe to (`on`). Their `data` is what a client's webhook
 * endpoint receives for the same event (src/core/webhooks/client_events.ts has each schema).
 */
export const PLUGIN_EVENT_TYPES = [
  "message.received",
  "message.status",
  "contact.consent_changed",
  "account.alert",
] as const;
export type PluginEventType = (typeof PLUGIN_EVENT_TYPES)[number];

export interface PluginEvent<T extends PluginEventType = PluginEventType> {
  /**
   * This delivery's id: the same on every retry of it, and different for every plugin and event,
   * so it makes a sound idempotency key for what the handler does
   */
  id: string;
  type: T;
  /** when the event was recorded (ISO 8601) */
  occurredAt: string;
  data: ClientEventData<T>;
}
