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
  NewPluginTemplate,
  PluginContact,
  PluginContext,
  PluginTemplate,
  SendIntent,
  SendRefusal,
  TemplateParameters,
} from "../../plugin_api/context.ts";
import type { ContactRecord } from "../../ports/contacts.ts";
import type { TemplateRecord } from "../../ports/templates.ts";
import { recordConsent } from "../contacts.ts";
import type { ServiceDeps } from "../deps.ts";
import { enqueueMessage } from "../whatsapp_send.ts";

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
    | "logger"
    | "now"
  >
  & {
    /** how plugins reach their upstreams (default fetch) */
    fetch?: typeof fetch;
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
    return key;
  };
  const doFetch = deps.fetch ?? fetch;
  // plain http only where upstreams are emulators (development and tests)
  const schemes = deps.env.ENVIRONMENT === "production" ? ["https:"] : ["https:", "http:"];

  return {
    pluginId: plugin.id,
    clientId,
    config: call.config,
    secrets: Object.freeze({ ...call.secrets }),
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

    async fetch(input, init = {}) {
      const url = new URL(String(input));
      if (!schemes.includes(url.protocol)) {
        throw new Error(`${plugin.id} may fetch only ${schemes.join(" or ")} URLs`);
      }
      if (!isUpstream(url.hostname, plugin.upstreams ?? [])) {
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
