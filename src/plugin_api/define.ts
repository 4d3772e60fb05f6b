import type * as z from "zod";
import type { PluginContact, PluginContext, PluginLogger } from "./context.ts";
import type { PluginEvent, PluginEventType } from "./events.ts";

/** A handler of one event type: it may throw (the host retries it, then parks the event). */
export type EventHandler<T extends PluginEventType, Config> = (
  event: PluginEvent<T>,
  ctx: PluginContext<Config>,
) => Promise<void>;

/**
 * How a plugin subscribes to an event: a handler, or a handler behind a filter. The filter runs
 * in the core's own path (the webhook ingest, the send loop) for every event of its type, before
 * anything is recorded: it must be cheap, synchronous and pure. Only events it keeps cost a
 * durable delivery.
 */
export type EventSubscription<T extends PluginEventType, Config> =
  | EventHandler<T, Config>
  | {
    filter?: (event: PluginEvent<T>["data"], config: Config) => boolean;
    handle: EventHandler<T, Config>;
  };

/** The deployment settings a plugin declared (`env`), and nothing else. */
export interface PluginEnv {
  get(name: string): string | undefined;
}

export type WebhookVerdict =
  | {
    valid: true;
    /** what makes a retry of the same delivery recognisable (the provider's id, or a digest) */
    dedupeKey: string;
    /** which installation it is for (plugin_installations.routing_key), e.g. a shop domain */
    routingKey: string;
  }
  | { valid: false; reason: string };

/**
 * Webhooks from the plugin's upstream, received at `POST /webhooks/<plugin id>`: verified over
 * the raw bytes before anything is parsed or stored, recorded in the core's inbox (so they are
 * acknowledged only once durable, and retried like Meta's), then handled for the installation
 * whose routing key they name, under that client's row-level security.
 */
export interface PluginWebhooks<Config> {
  verify(
    request: { body: Uint8Array<ArrayBuffer>; headers: Headers },
    env: PluginEnv,
  ): Promise<WebhookVerdict>;
  /** request headers kept with the delivery for `handle` (lower case; the topic, say) */
  keepHeaders?: readonly string[];
  handle(
    delivery: { id: number; body: unknown; headers: Readonly<Record<string, string>> },
    ctx: PluginContext<Config>,
  ): Promise<void>;
}

/** A page or endpoint of the plugin, served at `/plugins/<plugin id><path>`. */
export interface PluginRoute {
  method: "GET" | "POST";
  /** below the plugin's prefix: `/install`, `/callback` */
  path: string;
  handler(request: Request, host: PluginRouteHost): Promise<Response>;
}

export interface PluginRouteHost {
  logger: PluginLogger;
  env: PluginEnv;
  /** the context of the enabled installation whose routing key this is, or null */
  installation(routingKey: string): Promise<PluginContext | null>;
}

/**
 * A plugin, as data plus optional capabilities (plugins/mod.ts lists every one; the app checks
 * each at start-up and refuses to start, saying why, when one is malformed).
 */
export interface PluginDefinition<C extends z.ZodObject = z.ZodObject> {
  /** kebab-case, as it appears in URLs: `/v1/plugins/<id>`, `/webhooks/<id>` */
  id: string;
  /** semver */
  version: string;
  name: string;
  description?: string;
  /**
   * On for every client that has not configured it, with its config's defaults (so `config` must
   * accept `{}`); a client turns it off with `PUT /v1/plugins/<id>` `{"enabled": false}`
   */
  enabledByDefault?: boolean;
  /** what a client configures; published as JSON Schema by `GET /v1/plugins` */
  config: C;
  /** names of the secrets a client sets (write-only through the API, encrypted at rest) */
  secrets?: readonly string[];
  /** hosts `ctx.fetch` may call: `api.example.com`, or `*.example.com` for its subdomains */
  upstreams?: readonly string[];
  /** deployment settings (environment variables) the plugin reads; all must be set at start-up */
  env?: readonly string[];
  /** deployment settings the plugin reads when they are set (a previous secret, an override) */
  optionalEnv?: readonly string[];
  /**
   * Declared settings (env or optionalEnv) holding a URL whose host `ctx.fetch` may call too, when
   * set: how a deployment points the plugin at an emulator of its upstream
   */
  upstreamsFromEnv?: readonly string[];
  on?: { [T in PluginEventType]?: EventSubscription<T, z.output<C>> };
  webhooks?: PluginWebhooks<z.output<C>>;
  /**
   * Which installation an upstream's webhook or page is for. `fromConfig` reads it from a
   * client's config; `verify` proves the client may claim it (the upstream confirms the
   * client's credentials own it) and answers why not, or null. Keys are unique per plugin and
   * written only by the API after `verify`, so no client can claim another's.
   */
  routingKey?: {
    fromConfig(config: z.output<C>): string | null;
    verify?(key: string, ctx: PluginContext<z.output<C>>): Promise<string | null>;
  };
  routes?: readonly PluginRoute[];
  /** runs `run` for every enabled installation about every `everyMinutes` (at the sweeps) */
  schedule?: { everyMinutes: number; run(ctx: PluginContext<z.output<C>>): Promise<void> };
  /** what the plugin holds about a contact, for the privacy workflows: both, or neither */
  privacy?: {
    export(contact: PluginContact, ctx: PluginContext<z.output<C>>): Promise<unknown>;
    erase(contact: PluginContact, ctx: PluginContext<z.output<C>>): Promise<void>;
  };
  /** how long one handler call may run (default 10,000 ms, at most 60,000) */
  timeoutMs?: number;
  /** calls of a failing event before it is parked with its error (default 5, at most 20) */
  maxAttempts?: number;
}

/** Any plugin, whatever its config: what the registry holds. */
// deno-lint-ignore no-explicit-any
export type Plugin = PluginDefinition<any>;

/**
 * Declares a plugin. Nothing happens here but type inference: the app checks the definition at
 * start-up (pluginProblems) and refuses to start when it is malformed.
 */
export function definePlugin<C extends z.ZodObject>(definition: PluginDefinition<C>): Plugin {
  return Object.freeze(definition);
}
