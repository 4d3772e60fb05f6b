import { createApp } from "./app.ts";
import type { Env } from "./config/env.ts";
import { graphClient } from "./adapters/http/graph_client.ts";
import { jsonLogger } from "./adapters/logging/json_logger.ts";
import { dataKeys } from "./adapters/supabase/data_keys.ts";
import { masterKeyReports } from "./adapters/supabase/master_key_reports.ts";
import { createDatabaseAccess } from "./adapters/supabase/database.ts";
import { fetchWebhookEgress } from "./adapters/http/fetch_webhook_egress.ts";
import { whatsAppAccountStore } from "./adapters/supabase/accounts_store.ts";
import { apiKeyStore } from "./adapters/supabase/api_keys_store.ts";
import { auditLog } from "./adapters/supabase/audit.ts";
import { clientStore } from "./adapters/supabase/clients_store.ts";
import { contactStore } from "./adapters/supabase/contacts_store.ts";
import { inboxStore } from "./adapters/supabase/inbox_store.ts";
import { messageStore } from "./adapters/supabase/messages_store.ts";
import { batchedRequestLog, requestLogStore } from "./adapters/supabase/request_log_store.ts";
import { retentionStore } from "./adapters/supabase/retention_store.ts";
import { templateStore } from "./adapters/supabase/templates_store.ts";
import { webhookEndpointStore } from "./adapters/supabase/webhook_endpoints_store.ts";
import {
  pluginDeliveryStore,
  pluginInstallationStore,
  pluginJournalStore,
  pluginPrivacyRequestStore,
  pluginStateStore,
  subscriberStore,
} from "./adapters/supabase/plugins_store.ts";
import * as registered from "../plugins/mod.ts";
import type { Plugin } from "./plugin_api/mod.ts";
import { eventPublisher } from "./services/events.ts";
import { pluginFanout } from "./services/plugins/fanout.ts";
import { pluginHost } from "./services/plugins/host.ts";
import { pluginRegistry } from "./services/plugins/registry.ts";
import { subscriptionCache } from "./services/subscriptions.ts";
import { importPepper } from "./core/auth/api_keys.ts";
import { masterKeyFingerprints, parseKeyring } from "./core/crypto/envelope.ts";
import { parseCidrList } from "./core/net/ip.ts";
import { type ClientAddress, trustedProxyClientAddress } from "./http/client_address.ts";
import type { Doorbell, Job } from "./ports/jobs.ts";
import type { WebhookEgress } from "./ports/webhook_egress.ts";
import type { RequestLogSink } from "./ports/request_log.ts";
import { clientWebhooks } from "./services/client_webhooks.ts";
import { eachJob, jobConsumer } from "./services/consumer.ts";
import { deliveryConsumer, INBOX_LEASE_SECONDS, inboxConsumer } from "./services/inbox.ts";
import type { ServiceDeps } from "./services/deps.ts";
import { webhookRouter } from "./services/routing.ts";
import { metaInbox } from "./services/whatsapp_inbox.ts";
import { sendQueuedMessage } from "./services/whatsapp_send.ts";
import { type DueWork, sweep } from "./services/sweeper.ts";
import { templateService } from "./services/templates.ts";
import { offboardingStore } from "./adapters/supabase/offboarding_store.ts";
import { privacyRequestStore } from "./adapters/supabase/privacy_request_store.ts";
import { subjectDataStore } from "./adapters/supabase/subject_data_store.ts";
import { signedTokens } from "./core/crypto/signed_token.ts";
import { privacyHashes } from "./core/privacy/codes.ts";
import { offboardingJobs } from "./services/client_offboarding.ts";
import { privacyRequests } from "./services/privacy_requests.ts";

export interface ComposeOptions {
  /** builds the runtime's doorbell; it is handed the job handler (Deno runs jobs in-process) */
  doorbell: (handle: (jobs: Job[]) => Promise<unknown>) => Doorbell;
  authCacheSeconds?: number;
  /**
   * Share one database write between concurrent requests (request log, webhook inbox, send
   * calls), and claim a new message as it is enqueued for the in-process job that sends it. Off
   * on Workers, where a promise settled from another request's context has its continuations
   * cancelled when that request ends, and a queue runs the send elsewhere, later.
   */
  shareWrites?: boolean;
  /**
   * Who sent a request. Default: the socket peer, or behind TRUSTED_PROXIES the address they
   * forward (Deno, self-hosted); Workers reads the header Cloudflare sets.
   */
  clientAddress?: ClientAddress;
  /**
   * How client webhooks reach their receivers in production. Default: fetch, for Workers, whose
   * egress does not route to private ranges; Deno hands in the pinned egress, which resolves,
   * checks and connects to the checked address itself.
   */
  webhookEgress?: WebhookEgress;
  fetch?: typeof fetch;
  now?: () => number;
  /** how often the runtime calls sweep() (default SWEEP_INTERVAL_SECONDS; Workers: the Cron) */
  sweepIntervalSeconds?: number;
  /**
   * where the API request log goes (default: the database, in batches); Workers hands in its
   * queue, and a tool that only reads the app's OpenAPI document one that drops rows
   */
  requestLog?: RequestLogSink & { flush(): Promise<void> };
  /** the plugins to run (default: plugins/mod.ts, the registry) */
  plugins?: readonly Plugin[];
  /** the raw environment, where plugins read the deployment settings they declare (`env`) */
  pluginEnv?: Readonly<Record<string, string | undefined>>;
  /** waits after each failed call of a plugin's handler (default PLUGIN_RETRY_MS) */
  pluginRetryDelaysMs?: readonly number[];
}

/** Everything both composition roots share: from parsed configuration to a ready app and jobs. */
export async function composeApp(env: Env, options: ComposeOptions) {
  // first: a malformed plugin stops the app here, naming every problem (PluginRegistryError)
  const registry = pluginRegistry(
    options.plugins ?? Object.values(registered),
    options.pluginEnv ?? {},
  );
  const logger = jsonLogger({ level: env.LOG_LEVEL, base: { service: "glooft-edge" } });
  const db = createDatabaseAccess({
    url: env.SUPABASE_URL,
    anonKey: env.SUPABASE_ANON_KEY,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
    jwtSecret: env.SUPABASE_JWT_SECRET,
  });
  const keyring = await parseKeyring(env.MASTER_KEYS, env.MASTER_KEY_ACTIVE);
  const keys = dataKeys({ keyring, service: db.service });

  let handle: (jobs: Job[]) => Promise<unknown> = () => Promise.resolve();
  const doorbell = options.doorbell((jobs) => handle(jobs));
  const now = options.now ?? Date.now;
  // Workers' isolates do not share writes between requests: there every call goes alone
  const grouping = options.shareWrites === false ? { maxBatch: 1 } : {};
  const localEgress = fetchWebhookEgress(options.fetch);
  const services: Omit<ServiceDeps, "events" | "templateCheck"> = {
    env,
    dataKeys: keys,
    keyring,
    logger,
    doorbell,
    now,
    audit: auditLog(db),
    // a delivery's row is written claimed, and its job carries what the consumer would claim it
    // for (services/inbox.ts, recordedJob): one round trip less per batch. Workers' isolates do
    // not share the write between requests.
    inbox: inboxStore(db, {
      claimLeaseSeconds: INBOX_LEASE_SECONDS,
      now,
      ...(options.shareWrites === false ? { maxBatch: 1 } : {}),
    }),
    messages: messageStore(db, {
      // the lease outlives a Graph call that runs to its timeout
      leaseSeconds: Math.ceil(env.GRAPH_API_TIMEOUT_MS / 1000) + 20,
      recipientGapMs: env.RECIPIENT_MIN_INTERVAL_MS,
      ambiguousWaitMs: env.SEND_AMBIGUOUS_WAIT_MS,
      // where jobs run in this process, a new message is sent right after its enqueue, so the
      // enqueue claims it; a queue (Workers) may run the job anywhere, later: it claims there
      claimOnEnqueue: options.shareWrites !== false,
      ...grouping,
    }),
    contacts: contactStore(db),
    accounts: whatsAppAccountStore(db),
    webhookEndpoints: webhookEndpointStore(db, grouping),
    retention: retentionStore(db.service),
    subscribers: subscriberStore(db),
    plugins: pluginInstallationStore(db),
    pluginDeliveries: pluginDeliveryStore(db, grouping),
    pluginState: pluginStateStore(db),
    pluginJournal: pluginJournalStore(db),
    pluginPrivacyRequests: pluginPrivacyRequestStore(db),
    // Workers' egress does not route to private ranges, so there fetch is the safe default
    webhookEgress: options.webhookEgress ?? localEgress,
    localWebhookEgress: localEgress,
    templates: templateStore(db),
    graph: graphClient({
      baseUrl: env.GRAPH_API_BASE_URL,
      version: env.GRAPH_API_VERSION,
      timeoutMs: env.GRAPH_API_TIMEOUT_MS,
      fetch: options.fetch,
    }),
  };
  // who hears each client's events: one cached lookup for the webhooks and the plugins
  const subscriptions = subscriptionCache({ ...services, registry });
  const webhooks = clientWebhooks({
    ...services,
    subscriptions,
    // private and loopback receivers only outside production (local receivers in dev and tests)
    allowPrivate: env.ENVIRONMENT !== "production",
    // where jobs run in this process, a new delivery is written claimed for its first attempt
    // (Workers' queue may run the job elsewhere: it claims there)
    ...(options.shareWrites === false ? {} : { claimOnRecordSeconds: 60 }),
  });
  const fanout = pluginFanout({ ...services, registry, subscriptions });
  const events = eventPublisher(webhooks.publisher, fanout);
  // one per isolate: it shares each account's sync between its callers and remembers sendable
  // templates for a few seconds; the send pipeline reaches it as deps.templateCheck
  const templates = templateService({ ...services, events }, {
    syncIntervalSeconds: env.TEMPLATE_SYNC_INTERVAL_SECONDS,
    minIntervalSeconds: env.TEMPLATE_SYNC_MIN_INTERVAL_SECONDS,
    // a full listing is up to 100 pages, each a Graph call that may run to its timeout
    leaseSeconds: Math.ceil(env.GRAPH_API_TIMEOUT_MS / 1000) * 100 + 60,
  });
  const deps: ServiceDeps = { ...services, events, templateCheck: templates };
  const plugins = pluginHost(deps, {
    registry,
    subscriptions,
    fanout,
    fetch: options.fetch,
    retryDelaysMs: options.pluginRetryDelaysMs,
    // plugins' compliance requests go to the privacy workflow, built next from the host's deps
    privacyIntake: () => privacy.intake,
  });
  const dueWork: DueWork[] = [
    webhooks.due,
    plugins.runner.due,
    plugins.runner.ticks,
    templates.due,
  ];
  const privacy = privacyRequests({
    store: privacyRequestStore(db),
    subjects: subjectDataStore(db),
    plugins: plugins.deps,
    runJobs: (jobs) => handle(jobs),
    hashes: privacyHashes(env.API_KEY_PEPPER),
    pepper: env.API_KEY_PEPPER,
    exportTokens: signedTokens(env.API_KEY_PEPPER, "privacy-export"),
    keyring,
    send: deps,
    logger,
    now,
    config: {
      senderClientId: env.PRIVACY_SENDER_CLIENT_ID ?? null,
      senderPhoneNumberId: env.PRIVACY_SENDER_PHONE_NUMBER_ID ?? null,
      codeTemplate: env.PRIVACY_CODE_TEMPLATE,
      codeTemplateLanguage: env.PRIVACY_CODE_TEMPLATE_LANGUAGE,
      exportTtlHours: env.PRIVACY_EXPORT_TTL_HOURS,
    },
  });
  const offboarding = offboardingStore(db.service);
  const leaving = offboardingJobs(offboarding);
  dueWork.push(privacy.due, leaving.due);
  const router = webhookRouter(deps.accounts);
  // each provider's deliveries go to its processor: Meta's, and each plugin's with webhooks
  const inboxProcessors = new Map([
    ["meta", metaInbox({ ...deps, router, fanout, templateWebhooks: templates })],
    ...plugins.inboxProcessors,
  ]);
  const processInbox = inboxConsumer(deps, inboxProcessors);
  handle = jobConsumer({
    delivery: deliveryConsumer(deps, processInbox),
    inbox: processInbox,
    send: eachJob((job) => sendQueuedMessage(deps, job)),
    webhook_delivery: eachJob(webhooks.deliver),
    plugin_event: eachJob(plugins.runner.run),
    template_sync: eachJob(templates.syncJob),
    privacy_part: eachJob((job) => privacy.runPart(job.partId)),
    client_offboarding: eachJob(leaving.run),
  }, logger);

  const requestLogRows = requestLogStore(db.service);
  const requestLog = options.requestLog ?? batchedRequestLog(requestLogRows);
  const pepper = await importPepper(env.API_KEY_PEPPER);
  const app = createApp({
    env,
    logger,
    requestLog,
    pepper,
    clients: clientStore(db),
    apiKeys: apiKeyStore(db, pepper),
    services: deps,
    webhooks,
    plugins,
    templates,
    privacy,
    clientAddress: options.clientAddress ??
      trustedProxyClientAddress(parseCidrList(env.TRUSTED_PROXIES).cidrs),
    authCacheSeconds: options.authCacheSeconds,
  });
  // every sweep also says which master keys this instance holds, so that `deno task keys rotate`
  // can refuse a key some running instance lacks; the report stands for three sweep periods
  const instance = crypto.randomUUID();
  const reports = masterKeyReports(db.service);
  const ttlSeconds = 3 * (options.sweepIntervalSeconds ?? env.SWEEP_INTERVAL_SECONDS) + 30;
  // derived at the first sweep, not at boot: most Workers isolates never sweep
  let fingerprints: Promise<string[]> | undefined;
  const reportKeys = async () => {
    try {
      fingerprints ??= masterKeyFingerprints(keyring);
      await reports.report(instance, {
        keys: await fingerprints,
        active: keyring.active,
        ttlSeconds,
      });
    } catch (e) {
      logger.warn("master_key_report_failed", { message: (e as Error).message });
    }
  };
  return {
    app,
    deps: { env, logger, requestLog, services: deps, plugins, templates, privacy, offboarding },
    handleJobs: (jobs: Job[]) => handle(jobs),
    /** writes request log entries a queue carried (Workers), many in one insert */
    writeRequestLog: requestLogRows.insert,
    sweep: async () => (await Promise.all([sweep(deps, { extra: dueWork }), reportKeys()]))[0],
    /** on a clean stop: this instance's report no longer stands */
    withdrawKeyReport: () => reports.withdraw(instance),
  };
}
