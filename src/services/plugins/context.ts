import { decryptField, encryptField } from "../../core/crypto/envelope.ts";
import { base64urlEncode } from "../../core/crypto/hmac.ts";
import { type SignedTokens, signedTokens } from "../../core/crypto/signed_token.ts";
import { AppError } from "../../core/errors.ts";
import { isUuid } from "../../core/ids.ts";
import { parseContactRef } from "../../core/messaging/outbound.ts";
import {
  META_ID,
  STORED_LANGUAGE,
  TEMPLATE_CATEGORIES,
  TEMPLATE_LANGUAGE,
  TEMPLATE_NAME,
  TEMPLATE_REFUSALS,
  templateDefinitionProblems,
  templateSlots,
} from "../../core/whatsapp/templates.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type {
  JournalDay,
  JournalEntry,
  NewPluginTemplate,
  PluginContact,
  PluginContext,
  PluginJournal,
  PluginTemplate,
  SendIntent,
  SendRefusal,
  TemplateParameters,
} from "../../plugin_api/context.ts";
import type { ContactRecord } from "../../ports/contacts.ts";
import type { TemplateRecord } from "../../ports/templates.ts";
import type { JournalRecord } from "../../ports/plugins.ts";
import type {
  ShopifyComplianceIntake,
  ShopifyComplianceTopic,
} from "../../ports/privacy_intake.ts";
import { recordConsent } from "../contacts.ts";
import type { ServiceDeps } from "../deps.ts";
import type { SubscriptionCache } from "../subscriptions.ts";
import { enqueueMessage } from "../whatsapp_send.ts";
import type { PluginRegistry } from "./registry.ts";

/** What a plugin's context reaches: the services' ports, never a database client. */
export type ContextDeps =
  & Pick<
    ServiceDeps,
    | "env"
    | "messages"
    | "contacts"
    | "dataKeys"
    | "doorbell"
    | "events"
    | "pluginState"
    | "templates"
    | "templateCheck"
    | "pluginJournal"
    | "pluginPrivacyRequests"
    | "plugins"
    | "logger"
    | "now"
  >
  & {
    registry: PluginRegistry;
    /** how plugins reach their upstreams (default fetch) */
    fetch?: typeof fetch;
    /** where a config a plugin saves must be forgotten (the event filters read it) */
    subscriptions?: Pick<SubscriptionCache, "forget">;
    /**
     * The privacy workflow's intake of compliance requests (composed after the plugin host, so
     * read when a request arrives); absent, plugin requests are only recorded
     */
    privacyIntake?: () => ShopifyComplianceIntake | undefined;
  };

const REFUSALS: ReadonlySet<string> = new Set<SendRefusal>([
  "contact_opted_out",
  "outside_customer_service_window",
  "unknown_phone_number",
  "phone_number_required",
  "invalid_recipient",
  ...TEMPLATE_REFUSALS,
]);
const MAX_STATE_BYTES = 65_536;
const MAX_TEMPLATES_PER_PAGE = 200;
const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** state keys starting with it are the core's (the vault, the signing key), not the plugin's */
const RESERVED = "~";
const MAX_VAULT_CHARS = 16_384;
const JOURNAL_KEY = /^[\x21-\x7e]{1,200}$/;
const JOURNAL_KIND = /^[a-z][a-z0-9_.:/-]{0,63}$/;
const JOURNAL_REASON = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_JOURNAL_DATA = 4096;
const MAX_PRIVACY_DETAILS = 32_768;
const COMPLIANCE_TOPICS: ReadonlySet<string> = new Set<ShopifyComplianceTopic>([
  "customers/data_request",
  "customers/redact",
  "shop/redact",
]);
const MAX_ABOUT = 10_000;

/** The signing key of each installation, opened once per isolate. */
const signers = new Map<string, Promise<SignedTokens>>();
const MAX_SIGNERS = 10_000;

/** A phone number as digits (a contact's waId), or null when it cannot be one. */
function digitsOf(phone: string): string | null {
  const digits = phone.replace(/[\s().+-]/g, "");
  return /^[0-9]{6,20}$/.test(digits) ? digits : null;
}

const entryOf = (r: JournalRecord): JournalEntry => ({
  key: r.key,
  kind: r.kind,
  outcome: r.outcome,
  reason: r.reason,
  subject: r.subject,
  recipient: r.recipient,
  messageId: r.message_id,
  data: r.data ?? {},
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

function journalKey(key: string): string {
  if (typeof key !== "string" || !JOURNAL_KEY.test(key)) {
    throw new Error("A journal key is 1 to 200 printable ASCII characters");
  }
  return key;
}

/** Days of a summary, oldest first, each UTC day of the window present. */
function summaryDays(
  rows: Array<
    {
      day: string;
      outcome: string;
      message_status: string | null;
      reason: string | null;
      entries: number;
    }
  >,
  days: number,
  now: number,
): JournalDay[] {
  const out = new Map<string, JournalDay>();
  const today = Date.UTC(
    new Date(now).getUTCFullYear(),
    new Date(now).getUTCMonth(),
    new Date(now).getUTCDate(),
  );
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(today - i * 86_400_000).toISOString().slice(0, 10);
    out.set(day, { day, sent: 0, delivered: 0, read: 0, failed: 0, suppressed: {} });
  }
  for (const r of rows) {
    const d = out.get(String(r.day).slice(0, 10));
    if (!d) continue;
    if (r.outcome === "sent") {
      d.sent += r.entries;
      if (r.message_status === "delivered" || r.message_status === "read") d.delivered += r.entries;
      if (r.message_status === "read") d.read += r.entries;
      if (r.message_status === "failed") d.failed += r.entries;
    } else if (r.outcome === "suppressed") {
      const reason = r.reason ?? "unknown";
      d.suppressed[reason] = (d.suppressed[reason] ?? 0) + r.entries;
    }
  }
  return [...out.values()];
}

const contactOf = (c: ContactRecord): PluginContact => ({
  id: c.id,
  waId: c.wa_id,
  userId: c.user_id,
  consent: c.consent_status,
  lastInboundAt: c.last_inbound_at,
});

/** What a send of `t` fills in, from the slots the send check reads (core/whatsapp/templates.ts). */
function parametersOf(t: TemplateRecord): TemplateParameters | null {
  if (t.components === null) return null;
  const slots = templateSlots(t);
  const header: TemplateParameters["header"] = slots.header?.kind === "text"
    ? slots.header.params.length ? { type: "text", variables: slots.header.params } : null
    : slots.header?.kind === "media"
    ? { type: slots.header.type }
    : slots.header?.kind === "location"
    ? { type: "location" }
    : null;
  const buttons = slots.buttons.flatMap((b) =>
    b.needs ? [{ index: b.index, subType: b.needs.subType }] : []
  );
  const headerCount = header === null ? 0 : header.type === "text" ? header.variables.length : 1;
  return {
    format: t.parameter_format,
    header,
    body: slots.body,
    buttons,
    count: headerCount + slots.body.length + buttons.length,
  };
}

const templateOf = (t: TemplateRecord): PluginTemplate => ({
  id: t.id,
  wabaId: t.waba_id,
  name: t.name,
  language: t.language,
  category: t.category,
  status: t.status,
  qualityScore: t.quality_score,
  rejectedReason: t.rejected_reason,
  parameters: parametersOf(t),
  components: t.components,
});

/** What a submitted template breaks of Meta's rules, as `POST /v1/templates` answers them. */
function submissionProblems(t: NewPluginTemplate): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  if (typeof t.name !== "string" || !TEMPLATE_NAME.test(t.name)) {
    problems.push({ path: "name", message: "Lowercase letters, digits and underscores" });
  }
  if (typeof t.language !== "string" || !TEMPLATE_LANGUAGE.test(t.language)) {
    problems.push({ path: "language", message: "Meta's language code: en, en_US, pt_BR, …" });
  }
  if (!(TEMPLATE_CATEGORIES as readonly unknown[]).includes(t.category)) {
    problems.push({ path: "category", message: TEMPLATE_CATEGORIES.join(", ") });
  }
  if (t.parameterFormat !== undefined && !["POSITIONAL", "NAMED"].includes(t.parameterFormat)) {
    problems.push({ path: "parameterFormat", message: "POSITIONAL or NAMED" });
  }
  if (t.wabaId !== undefined && !(typeof t.wabaId === "string" && META_ID.test(t.wabaId))) {
    problems.push({ path: "wabaId", message: "Meta's id of a WhatsApp Business account" });
  }
  const components = t.components;
  if (
    !Array.isArray(components) || components.length < 1 || components.length > 4 ||
    !components.every((c) => c !== null && typeof c === "object" && typeof c.type === "string")
  ) {
    problems.push({ path: "components", message: "1 to 4 components, each with its type" });
  }
  if (problems.length) return problems;
  try {
    return templateDefinitionProblems({
      name: t.name,
      language: t.language,
      category: t.category,
      parameter_format: t.parameterFormat,
      components: [...components],
    });
  } catch {
    // the rules read each component's documented fields; one of another shape is not Meta's
    return [{ path: "components", message: "Components in Meta's template shape" }];
  }
}

function refOf(ref: string) {
  const parsed = parseContactRef(ref);
  if (!parsed) throw new Error("Not a contact id, phone number or business-scoped user id");
  return parsed;
}

/** Whether `host` is one of the plugin's upstreams (`*.example.com` covers its subdomains). */
export function isUpstream(host: string, upstreams: readonly string[]): boolean {
  const h = host.toLowerCase();
  return upstreams.some((pattern) =>
    pattern.startsWith("*.")
      ? h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1
      : h === pattern
  );
}

/**
 * The context one call of a plugin gets, for one client: its config and secrets, a tagged
 * logger, and the core's capabilities bound to this client and this plugin. `sendKey` makes the
 * call's sends deterministic: the nth send without a `key` of its own is `<sendKey>:<n>`.
 */
export function pluginContext<Config>(
  deps: ContextDeps,
  plugin: Plugin,
  clientId: string,
  call: {
    config: Config;
    secrets: Readonly<Record<string, string>>;
    signal: AbortSignal;
    sendKey: string;
  },
): PluginContext<Config> {
  const actor = `plugin:${plugin.id}`;
  let sends = 0;
  const stateKey = (key: string) => {
    if (typeof key !== "string" || key.length < 1 || key.length > 200) {
      throw new Error("A state key is 1 to 200 characters");
    }
    if (key.startsWith(RESERVED)) {
      throw new Error(`State keys starting with ${RESERVED} are reserved`);
    }
    return key;
  };
  const vaultName = (name: string) => {
    if (typeof name !== "string" || !/^[a-z][a-z0-9_.-]{0,99}$/.test(name)) {
      throw new Error(
        "A vault name is 1 to 100 characters: a-z, 0-9, _ . -, starting with a letter",
      );
    }
    return name;
  };
  // a sealed value decrypts only as this client's, this plugin's, under this name
  const sealContext = (name: string) => `plugin_vault:${clientId}:${plugin.id}:${name}`;
  const seal = async (name: string, value: string) => ({
    sealed: await encryptField(await deps.dataKeys.forClient(clientId), value, sealContext(name)),
  });
  const unseal = async (name: string, stored: unknown) => {
    const sealed = (stored as { sealed?: unknown } | null)?.sealed;
    if (typeof sealed !== "string") return null;
    return await decryptField(await deps.dataKeys.forClient(clientId), sealed, sealContext(name));
  };
  const signer = () => {
    const id = `${clientId}:${plugin.id}`;
    let found = signers.get(id);
    if (!found) {
      if (signers.size >= MAX_SIGNERS) signers.delete(signers.keys().next().value!);
      found = (async () => {
        // a random key per installation, created once: concurrent first uses all read the one
        // that was stored first
        const fresh = base64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
        const stored = await deps.pluginState.claim(
          clientId,
          plugin.id,
          `${RESERVED}signing-key`,
          await seal("~signing-key", fresh),
        );
        const key = await unseal("~signing-key", stored);
        if (!key) throw new Error("The installation's signing key cannot be read");
        return signedTokens(key, `plugin-signer:${plugin.id}`);
      })();
      found.catch(() => signers.delete(id));
      signers.set(id, found);
    }
    return found;
  };
  const kindsOf = (kinds?: readonly string[]) => kinds?.length ? [...kinds] : null;
  const journal: PluginJournal = {
    async claim(key, entry) {
      if (!JOURNAL_KIND.test(entry.kind)) throw new Error("A journal kind is a-z, 0-9, _ . : / -");
      const data = entry.data ?? {};
      if (JSON.stringify(data).length > MAX_JOURNAL_DATA) {
        throw new Error(`Journal data is at most ${MAX_JOURNAL_DATA} characters of JSON`);
      }
      const recipient = entry.recipient === undefined ? null : digitsOf(entry.recipient);
      const { created, entry: row } = await deps.pluginJournal.claim(clientId, plugin.id, {
        key: journalKey(key),
        kind: entry.kind,
        subject: entry.subject?.slice(0, 200) ?? null,
        recipient,
        data,
      });
      return { created, entry: entryOf(row) };
    },
    async get(key) {
      const row = await deps.pluginJournal.get(clientId, plugin.id, journalKey(key));
      return row ? entryOf(row) : null;
    },
    async settle(key, outcome) {
      if (outcome.outcome === "suppressed" && !JOURNAL_REASON.test(outcome.reason)) {
        throw new Error("A suppression reason is snake_case, at most 64 characters");
      }
      await deps.pluginJournal.settle(clientId, plugin.id, journalKey(key), {
        outcome: outcome.outcome,
        reason: outcome.outcome === "suppressed" ? outcome.reason : null,
        message_id: outcome.outcome === "sent" ? outcome.messageId : null,
        ...(outcome.recipient !== undefined ? { recipient: digitsOf(outcome.recipient) } : {}),
      });
    },
    async advance(key, version) {
      if (!Number.isSafeInteger(version) || version < 0) {
        throw new Error("A version is a non-negative safe integer");
      }
      return await deps.pluginJournal.advance(
        clientId,
        plugin.id,
        journalKey(key),
        "version",
        version,
      );
    },
    async recent(options = {}) {
      const rows = await deps.pluginJournal.recent(clientId, plugin.id, {
        kinds: kindsOf(options.kinds),
        limit: Math.min(Math.max(options.limit ?? 50, 1), 200),
        before: options.before ?? null,
      });
      return rows.map((r) => ({
        ...entryOf({ ...r, version: null }),
        messageStatus: r.message_status,
      }));
    },
    async about(number) {
      const digits = digitsOf(number);
      if (!digits) return [];
      const rows = await deps.pluginJournal.about(clientId, plugin.id, digits, MAX_ABOUT + 1);
      // an export must be whole or fail: a partial one would pass for complete
      if (rows.length > MAX_ABOUT) throw new Error(`More than ${MAX_ABOUT} entries about a number`);
      return rows.map((r) => ({
        ...entryOf({ ...r, version: null }),
        messageStatus: r.message_status,
      }));
    },
    async summary(options) {
      const days = Math.min(Math.max(Math.trunc(options.days), 1), 90);
      const rows = await deps.pluginJournal.summary(clientId, plugin.id, {
        kinds: kindsOf(options.kinds),
        days,
      });
      return summaryDays(rows, days, deps.now());
    },
    async forget(recipients) {
      if (recipients === "all") return await deps.pluginJournal.forget(clientId, plugin.id, "all");
      const digits = recipients.map(digitsOf).filter((d): d is string => d !== null);
      return await deps.pluginJournal.forget(clientId, plugin.id, digits);
    },
  };
  const doFetch = deps.fetch ?? fetch;
  // plain http only where upstreams are emulators (development and tests)
  const schemes = deps.env.ENVIRONMENT === "production" ? ["https:"] : ["https:", "http:"];

  return {
    pluginId: plugin.id,
    clientId,
    config: call.config,
    secrets: Object.freeze({ ...call.secrets }),
    env: deps.registry.env(plugin.id),
    logger: deps.logger.child({ plugin: plugin.id, client_id: clientId }),
    signal: call.signal,

    async send(intent: SendIntent) {
      const n = sends++;
      if (intent.key !== undefined && (intent.key.length < 1 || intent.key.length > 128)) {
        throw new Error("A send key is 1 to 128 characters");
      }
      const key = `plugin:${plugin.id}:${intent.key ?? `${call.sendKey}:${n}`}`;
      const request = "text" in intent
        ? {
          type: "text",
          content: { text: { body: intent.text, preview_url: intent.previewUrl ?? false } },
        }
        : {
          type: "template",
          content: {
            template: {
              name: intent.template.name,
              language: { code: intent.template.language },
              ...(intent.template.components ? { components: intent.template.components } : {}),
            },
          },
        };
      try {
        const { message, created } = await enqueueMessage(deps, clientId, {
          to: intent.to,
          phone_number_id: intent.phoneNumberId,
          ...request,
        }, key);
        return { sent: true as const, messageId: message.id, created };
      } catch (error) {
        if (error instanceof AppError && REFUSALS.has(error.code)) {
          return { sent: false as const, reason: error.code as SendRefusal };
        }
        throw error;
      }
    },

    contacts: {
      async find(ref) {
        const found = await deps.contacts.find(clientId, refOf(ref));
        return found ? contactOf(found) : null;
      },
    },

    consent: {
      async record(ref, decision) {
        const { record, previous } = await recordConsent(deps, clientId, refOf(ref), {
          status: decision.status,
          source: decision.source,
          actor,
        });
        return { contact: contactOf(record), previous };
      },
    },

    templates: {
      async list(filter = {}) {
        const { after, limit = MAX_TEMPLATES_PER_PAGE } = filter;
        // `after` ends up in PostgREST's filter syntax: only a template's own values get there
        if (
          after &&
          !(TEMPLATE_NAME.test(after.name) && STORED_LANGUAGE.test(after.language) &&
            isUuid(after.id))
        ) {
          throw new Error("`after` is not a template of this list");
        }
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TEMPLATES_PER_PAGE) {
          throw new Error(`A page of templates holds 1 to ${MAX_TEMPLATES_PER_PAGE}`);
        }
        const rows = await deps.templates.list(clientId, {
          status: filter.status,
          language: filter.language,
          category: filter.category,
          name: filter.name,
          wabaId: filter.wabaId,
          after: after && { name: after.name, language: after.language, id: after.id },
          limit,
        });
        return rows.map(templateOf);
      },
      async check(template, options = {}) {
        const verdict = await deps.templateCheck.check(clientId, {
          template: {
            name: template.name,
            language: { code: template.language },
            ...(template.components ? { components: [...template.components] } : {}),
          },
          phoneNumberId: options.phoneNumberId ?? null,
        });
        return verdict.ok
          ? { ok: true as const }
          : { ok: false as const, reason: verdict.code, message: verdict.message };
      },
      async submit(template) {
        const problems = submissionProblems(template);
        if (problems.length) {
          return {
            submitted: false as const,
            reason: "invalid_template",
            message: `The template breaks ${problems.length} of Meta's rules`,
            problems,
          };
        }
        try {
          const record = await deps.templateCheck.create(clientId, {
            ...(template.wabaId ? { waba_id: template.wabaId } : {}),
            name: template.name,
            language: template.language,
            category: template.category,
            ...(template.parameterFormat ? { parameter_format: template.parameterFormat } : {}),
            components: template.components.map((c) => ({ ...c })),
          }, { actor });
          return { submitted: true as const, template: templateOf(record) };
        } catch (error) {
          // the refusals POST /v1/templates answers as 409/422/502; anything else is the core's
          if (error instanceof AppError && (error.status < 500 || error.code === "graph_error")) {
            return { submitted: false as const, reason: error.code, message: error.message };
          }
          throw error;
        }
      },
    },

    state: {
      async get<T>(key: string) {
        return await deps.pluginState.get(clientId, plugin.id, stateKey(key)) as T | null;
      },
      async set(key, value) {
        const text = JSON.stringify(value);
        if (text === undefined) throw new Error("State values are JSON");
        if (new TextEncoder().encode(text).length > MAX_STATE_BYTES) {
          throw new Error(`A state value is at most ${MAX_STATE_BYTES} bytes of JSON`);
        }
        await deps.pluginState.set(clientId, plugin.id, stateKey(key), JSON.parse(text));
      },
      async delete(key) {
        await deps.pluginState.delete(clientId, plugin.id, stateKey(key));
      },
    },

    vault: {
      async get(name) {
        const key = `${RESERVED}vault:${vaultName(name)}`;
        return await unseal(name, await deps.pluginState.get(clientId, plugin.id, key));
      },
      async set(name, value) {
        if (typeof value !== "string" || value.length > MAX_VAULT_CHARS) {
          throw new Error(`A vault value is a string of at most ${MAX_VAULT_CHARS} characters`);
        }
        const key = `${RESERVED}vault:${vaultName(name)}`;
        await deps.pluginState.set(clientId, plugin.id, key, await seal(name, value));
      },
      async delete(name) {
        await deps.pluginState.delete(clientId, plugin.id, `${RESERVED}vault:${vaultName(name)}`);
      },
    },

    signer: {
      sign: async (context, payload) => (await signer()).sign(context, payload),
      open: async (context, token) =>
        typeof token === "string" ? (await signer()).open(context, token) : null,
    },

    journal,

    privacyRequests: {
      async record(request) {
        /**
         * Files the upstream's request with the privacy workflow first (idempotent per webhook
         * id, so a retry after a failed record files nothing new), answering its id; a body the
         * workflow cannot read (not as the provider documents it) is recorded unfiled for staff.
         */
        const fileUpstream = async (upstream: typeof request.upstream) => {
          const intake = deps.privacyIntake?.();
          if (!upstream || !intake) return null;
          if (upstream.provider !== "shopify" || !COMPLIANCE_TOPICS.has(upstream.topic)) {
            throw new Error("A plugin files only Shopify's three compliance topics");
          }
          try {
            const filed = await intake.fileShopifyCompliance({
              clientId,
              topic: upstream.topic as ShopifyComplianceTopic,
              payload: upstream.payload,
              webhookId: String(upstream.webhookId).slice(0, 200),
            });
            return filed.requestId;
          } catch (error) {
            if (!(error instanceof AppError) || error.status >= 500) throw error;
            deps.logger.warn("plugin_privacy_request_not_filed", {
              plugin: plugin.id,
              client_id: clientId,
              code: error.code,
            });
            return null;
          }
        };
        if (!["access", "erasure", "erase_all"].includes(request.kind)) {
          throw new Error("A privacy request is access, erasure or erase_all");
        }
        if (
          typeof request.reference !== "string" || !/^[\x21-\x7e]{1,200}$/.test(request.reference)
        ) {
          throw new Error("A privacy request reference is 1 to 200 printable ASCII characters");
        }
        const details = JSON.stringify(request.details ?? {});
        if (details.length > MAX_PRIVACY_DETAILS) {
          throw new Error(`Privacy request details are at most ${MAX_PRIVACY_DETAILS} characters`);
        }
        const filed = await fileUpstream(request.upstream);
        const id = crypto.randomUUID();
        return await deps.pluginPrivacyRequests.record(clientId, plugin.id, {
          ...(filed ? { privacy_request_id: filed } : {}),
          id,
          kind: request.kind,
          reference: request.reference,
          subject_ref: request.phone ? digitsOf(request.phone) : null,
          details_ciphertext: await encryptField(
            await deps.dataKeys.forClient(clientId),
            details,
            `plugin_privacy_request:${id}`,
          ),
        });
      },
    },

    async saveConfig(config, who) {
      const parsed = plugin.config.safeParse(config);
      if (!parsed.success) {
        throw new Error(
          `The config does not fit ${plugin.id}'s schema: ${
            parsed.error.issues.map((i: { path: PropertyKey[]; message: string }) =>
              `${i.path.map(String).join(".")}: ${i.message}`
            ).join("; ")
          }`,
        );
      }
      const row = await deps.plugins.get(clientId, plugin.id);
      if (!row) throw new Error(`${plugin.id} is not installed for this client`);
      const routingKey = plugin.routingKey?.fromConfig(parsed.data) ?? null;
      if (routingKey !== row.routing_key) {
        throw new Error("A plugin cannot change its routing key: the client's API call does that");
      }
      await deps.plugins.save(clientId, {
        plugin_id: plugin.id,
        enabled: row.enabled,
        config: parsed.data,
        secrets_ciphertext: row.secrets_ciphertext,
        routing_key: row.routing_key,
      }, {
        actor,
        action: "plugin.updated",
        details: { config_changed: true, on_behalf_of: String(who.onBehalfOf).slice(0, 200) },
      });
      deps.subscriptions?.forget(clientId);
    },

    async fetch(input, init = {}) {
      const url = new URL(String(input));
      if (!schemes.includes(url.protocol)) {
        throw new Error(`${plugin.id} may fetch only ${schemes.join(" or ")} URLs`);
      }
      if (!isUpstream(url.hostname, deps.registry.upstreams(plugin.id))) {
        throw new Error(`${url.hostname} is not one of ${plugin.id}'s upstreams`);
      }
      const { timeoutMs = DEFAULT_FETCH_TIMEOUT_MS, ...rest } = init;
      const signals = [call.signal, AbortSignal.timeout(timeoutMs)];
      if (rest.signal) signals.push(rest.signal);
      // a redirect could lead anywhere: it is answered as it came, never followed
      return await doFetch(url, { ...rest, redirect: "manual", signal: AbortSignal.any(signals) });
    },
  };
}
