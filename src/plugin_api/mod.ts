/**
 * The plugin API: the only module a plugin imports from this repository (tests/plugins/
 * contract_test.ts checks it). docs/plugins.md teaches writing a plugin.
 */
export { definePlugin } from "./define.ts";
export type {
  EventHandler,
  EventSubscription,
  Plugin,
  PluginDefinition,
  PluginEnv,
  PluginRoute,
  PluginRouteHost,
  PluginWebhooks,
  WebhookVerdict,
} from "./define.ts";
export type {
  ConsentStatus,
  JournalDay,
  JournalEntry,
  JournalListing,
  JournalOutcome,
  LogFields,
  NewPluginTemplate,
  PluginContact,
  PluginContext,
  PluginJournal,
  PluginLogger,
  PluginPrivacyRequest,
  PluginSigner,
  PluginState,
  PluginTemplate,
  PluginTemplates,
  PluginVault,
  SendIntent,
  SendRefusal,
  SendResult,
  TemplateCheck,
  TemplateFilter,
  TemplateMessage,
  TemplateParameters,
  TemplateRefusal,
  TemplateSubmission,
} from "./context.ts";
export { PLUGIN_EVENT_TYPES } from "./events.ts";
export type { PluginEvent, PluginEventType } from "./events.ts";
export { pluginProblems, registryProblems } from "./validate.ts";
