import type { Env } from "../config/env.ts";
import type { Keyring } from "../core/crypto/envelope.ts";
import type { WhatsAppAccountStore } from "../ports/accounts.ts";
import type { AuditLog } from "../ports/audit.ts";
import type { Clock } from "../ports/clock.ts";
import type { ContactStore } from "../ports/contacts.ts";
import type { DataKeys } from "../ports/data_keys.ts";
import type { EventPublisher } from "../ports/events.ts";
import type { GraphClient } from "../ports/graph.ts";
import type { InboxStore } from "../ports/inbox.ts";
import type { Doorbell } from "../ports/jobs.ts";
import type { Logger } from "../ports/logger.ts";
import type { MessageStore } from "../ports/messages.ts";
import type {
  PluginDeliveryStore,
  PluginInstallationStore,
  PluginJournalStore,
  PluginPrivacyRequestStore,
  PluginStateStore,
  SubscriberStore,
} from "../ports/plugins.ts";
import type { RetentionStore } from "../ports/retention.ts";
import type { TemplateCheck, TemplateStore } from "../ports/templates.ts";
import type { WebhookEgress } from "../ports/webhook_egress.ts";
import type { WebhookEndpointStore } from "../ports/webhook_endpoints.ts";

/**
 * What the services need, as ports only (src/ports/): built once per isolate by src/compose.ts,
 * which picks the adapters. A service never sees a database client.
 */
export interface ServiceDeps {
  env: Env;
  keyring: Keyring;
  dataKeys: DataKeys;
  graph: GraphClient;
  logger: Logger;
  doorbell: Doorbell;
  events: EventPublisher;
  now: Clock;
  audit: AuditLog;
  inbox: InboxStore;
  messages: MessageStore;
  contacts: ContactStore;
  accounts: WhatsAppAccountStore;
  webhookEndpoints: WebhookEndpointStore;
  retention: RetentionStore;
  /** who hears a client's events: its webhook endpoints and plugin installations */
  subscribers: SubscriberStore;
  plugins: PluginInstallationStore;
  pluginDeliveries: PluginDeliveryStore;
  pluginState: PluginStateStore;
  pluginJournal: PluginJournalStore;
  pluginPrivacyRequests: PluginPrivacyRequestStore;
  /**
   * How client webhooks reach their receivers in production (ports/webhook_egress.ts): plain
   * fetch on Workers, whose egress does not route to private ranges; the pinned egress on Deno.
   */
  webhookEgress: WebhookEgress;
  /** how they reach them outside production, where receivers are local: plain fetch */
  localWebhookEgress: WebhookEgress;
  templates: TemplateStore;
  /** what a template send passes before it is queued (services/templates.ts implements it) */
  templateCheck: TemplateCheck;
}
