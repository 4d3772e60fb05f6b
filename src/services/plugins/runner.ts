import { decryptField } from "../../core/crypto/envelope.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type { PluginContext } from "../../plugin_api/context.ts";
import type { Job } from "../../ports/jobs.ts";
import type { PluginDeliveryOutcome } from "../../ports/plugins.ts";
import type { ServiceDeps } from "../deps.ts";
import { type ContextDeps, pluginContext } from "./context.ts";
import { payloadContext, type PluginEventPayload } from "./fanout.ts";
import type { PluginRegistry } from "./registry.ts";

/** how long a handler may run unless its manifest says otherwise */
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_ATTEMPTS = 5;
/**
 * Waits after each failed call of a handler (±20% jitter): a plugin's upstream or bug gets time
 * to recover; the last failure parks the event with its error.
 */
export const PLUGIN_RETRY_MS: readonly number[] = [10_000, 60_000, 300_000, 1_800_000];
/** a claim outlives the longest handler a manifest may ask for (60 s) */
const LEASE_SECONDS = 90;

export type HostDeps =
  & ContextDeps
  & Pick<ServiceDeps, "plugins" | "pluginDeliveries">
  & {
    registry: PluginRegistry;
    /** waits after each failed call (default PLUGIN_RETRY_MS) */
    retryDelaysMs?: readonly number[];
  };

/** The additional data a client's secrets for a plugin are bound to. */
export const secretsContext = (clientId: string, pluginId: string) =>
  `plugin_secrets:${clientId}:${pluginId}`;

/**
 * The config and secrets a plugin runs with for a client, read fresh (a call must see a change
 * the client just made): null when the plugin is off for the client.
 */
export async function installationFor(
  deps: Pick<HostDeps, "plugins" | "registry" | "dataKeys">,
  plugin: Plugin,
  clientId: string,
): Promise<{ config: unknown; secrets: Record<string, string> } | null> {
  const row = await deps.plugins.get(clientId, plugin.id);
  if (!row) {
    return plugin.enabledByDefault
      ? { config: deps.registry.defaults(plugin.id), secrets: {} }
      : null;
  }
  if (!row.enabled) return null;
  const parsed = plugin.config.safeParse(row.config);
  if (!parsed.success) throw new Error("The saved config no longer fits the plugin's schema");
  const secrets = row.secrets_ciphertext
    ? JSON.parse(
      await decryptField(
        await deps.dataKeys.forClient(clientId),
        row.secrets_ciphertext,
        secretsContext(clientId, plugin.id),
      ),
    )
    : {};
  return { config: parsed.data, secrets };
}

/**
 * Runs `call` with the plugin's deadline: it gets a signal that aborts at the deadline, and its
 * promise loses the race to it. A handler that ignores the signal goes on in the background, but
 * its outcome is no longer awaited (a loop that never yields cannot be stopped in JavaScript).
 */
export async function withDeadline<T>(
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`Timed out after ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export type RunOutcome = PluginDeliveryOutcome["outcome"] | "skipped";

/**
 * Plugin deliveries: `run` makes one call of a handler for a recorded event (or scheduled run);
 * `due` and `ticks` find work for the sweeper. A handler that throws or runs out of time is called
 * again after PLUGIN_RETRY_MS, and after the plugin's last attempt the event is parked with its
 * error (GET /v1/plugins/{id} shows it; POST /v1/plugins/{id}/retry puts it back). Nothing a
 * handler does reaches another plugin's events, the client's webhooks or the inbox: each
 * delivery is its own row, claim and outcome.
 */
export function pluginRunner(deps: HostDeps) {
  const delays = deps.retryDelaysMs ?? PLUGIN_RETRY_MS;
  const finish = (clientId: string, id: string, outcome: PluginDeliveryOutcome) =>
    deps.pluginDeliveries.finish(clientId, id, outcome).then(() => outcome.outcome);

  async function run(job: { clientId: string; deliveryId: string }): Promise<RunOutcome> {
    const { clientId, deliveryId } = job;
    const claimed = await deps.pluginDeliveries.claim(clientId, deliveryId, LEASE_SECONDS);
    if (!claimed) return "skipped";
    const plugin = deps.registry.get(claimed.plugin_id);
    if (!plugin) {
      return await finish(clientId, deliveryId, {
        outcome: "parked",
        error: "The plugin is not registered in this deployment",
      });
    }
    const logger = deps.logger.child({ plugin: plugin.id, client_id: clientId });
    const maxAttempts = plugin.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const fail = (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const parked = claimed.attempts >= maxAttempts;
      logger.warn("plugin_handler_failed", {
        delivery_id: deliveryId,
        event_type: claimed.event_type,
        attempt: claimed.attempts,
        parked,
        message: message.slice(0, 300),
      });
      if (parked) return finish(clientId, deliveryId, { outcome: "parked", error: message });
      const wait = delays[Math.min(claimed.attempts, delays.length) - 1] ?? 0;
      const retryInMs = Math.round(wait * (0.8 + Math.random() * 0.4));
      return finish(clientId, deliveryId, { outcome: "retry", error: message, retryInMs })
        .then(async (outcome) => {
          // the next call claims the row afresh; the sweeper rings it too should this be lost
          await deps.doorbell.ring([{ kind: "plugin_event", clientId, deliveryId }], {
            delayMs: retryInMs,
          });
          return outcome;
        });
    };

    let handler: ((ctx: PluginContext) => Promise<void>) | undefined;
    try {
      const installation = await installationFor(deps, plugin, clientId);
      // turned off (or removed) since the event was recorded: the plugin no longer hears it
      if (!installation) return await finish(clientId, deliveryId, { outcome: "cancelled" });
      if (claimed.event_type === "schedule") {
        const schedule = plugin.schedule;
        if (schedule) handler = (ctx) => schedule.run(ctx);
      } else {
        const sub = (plugin.on as Record<string, unknown> | undefined)?.[claimed.event_type];
        const handle = (typeof sub === "function" ? sub : (sub as { handle?: unknown })?.handle) as
          | ((event: unknown, ctx: PluginContext) => Promise<void>)
          | undefined;
        if (handle) {
          const payload: PluginEventPayload = JSON.parse(
            await decryptField(
              await deps.dataKeys.forClient(clientId),
              claimed.payload_ciphertext!,
              payloadContext(deliveryId),
            ),
          );
          const event = {
            id: deliveryId,
            type: payload.type,
            occurredAt: payload.occurred_at,
            data: payload.data,
          };
          handler = (ctx) => handle(event, ctx);
        }
      }
      if (!handler) return await finish(clientId, deliveryId, { outcome: "cancelled" });
      const call = handler;
      await withDeadline(
        plugin.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        (signal) =>
          call(pluginContext(deps, plugin, clientId, {
            config: installation.config,
            secrets: installation.secrets,
            signal,
            sendKey: deliveryId,
          })),
      );
    } catch (error) {
      return await fail(error);
    }
    return await finish(clientId, deliveryId, { outcome: "succeeded" });
  }

  const schedules = deps.registry.list.flatMap((p) =>
    p.schedule ? [{ plugin_id: p.id, every_seconds: p.schedule.everyMinutes * 60 }] : []
  );
  const asJobs = (rows: Array<{ id: string; client_id: string }>): Job[] =>
    rows.map((r) => ({ kind: "plugin_event" as const, clientId: r.client_id, deliveryId: r.id }));

  return {
    run,
    /** for the sweeper: pending deliveries whose time has come, in turns per client */
    due: async (limit: number) => asJobs(await deps.pluginDeliveries.due(limit)),
    /** for the sweeper: the scheduled runs now due, recorded as deliveries */
    ticks: async (limit: number) =>
      schedules.length ? asJobs(await deps.pluginDeliveries.recordTicks(schedules, limit)) : [],
  };
}
