import { AppError } from "../../core/errors.ts";
import { parseContactRef } from "../../core/messaging/outbound.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type {
  PluginContact,
  PluginContext,
  SendIntent,
  SendRefusal,
} from "../../plugin_api/context.ts";
import type { ContactRecord } from "../../ports/contacts.ts";
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
]);
const MAX_STATE_BYTES = 65_536;
const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

const contactOf = (c: ContactRecord): PluginContact => ({
  id: c.id,
  waId: c.wa_id,
  userId: c.user_id,
  consent: c.consent_status,
  lastInboundAt: c.last_inbound_at,
});

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
