import { sha256 } from "../../core/crypto/engine.ts";
import { encryptSystem } from "../../core/crypto/envelope.ts";
import { toHex } from "../../core/crypto/hmac.ts";
import { AppError } from "../../core/errors.ts";
import { MAX_KEY_LENGTH } from "../../core/storable.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type { ServiceDeps } from "../deps.ts";
import { acceptDelivery, type InboxProcessor } from "../inbox.ts";
import { pluginContext } from "./context.ts";
import type { PluginRegistry } from "./registry.ts";
import { DEFAULT_TIMEOUT_MS, type HostDeps, installationFor, withDeadline } from "./runner.ts";

/** What the inbox keeps of a plugin's webhook (encrypted): enough to route and handle it. */
interface PluginDelivery {
  routing_key: string;
  headers: Record<string, string>;
  body: unknown;
}

/** webhook_inbox.route_key's bound */
const MAX_ROUTE_KEY = 64;
/**
 * How long a routing key's answer is reused per isolate: an upstream sends bursts for one key (a
 * shop's orders), and every delivery would otherwise cost a cross-tenant lookup before its 200. A
 * key found stays found for a minute (a removed installation's deliveries then fail in the
 * consumer, which looks again); one not found is asked again after a few seconds, so a new
 * installation starts receiving at once.
 */
const KNOWN_TTL_MS = 60_000;
const UNKNOWN_TTL_MS = 5_000;
const MAX_KNOWN = 10_000;
const known = new Map<string, { found: boolean; until: number }>();

async function routingKeyHeld(
  deps: Pick<ServiceDeps, "plugins" | "now">,
  pluginId: string,
  routingKey: string,
): Promise<boolean> {
  const id = `${pluginId}\n${routingKey}`;
  const cached = known.get(id);
  if (cached && cached.until > deps.now()) return cached.found;
  const found = (await deps.plugins.byRoutingKey(pluginId, routingKey)) !== null;
  if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value!);
  known.set(id, { found, until: deps.now() + (found ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
  return found;
}

/**
 * A plugin's upstream delivered a webhook (`POST /webhooks/<plugin id>`): the plugin verifies the
 * raw bytes, then the delivery is accepted as Meta's are (acceptDelivery: recorded in the inbox
 * under the plugin's provider name before it is acknowledged, or on Workers held by the queue and
 * recorded by its consumer), once per dedupe key either way; then pluginInbox() handles it. A verified
 * delivery whose routing key no installation holds (a shop nobody linked) is acknowledged and
 * dropped: nobody here may read it, and refusing it would only make the upstream retry.
 */
export async function recordPluginWebhook(
  deps: Pick<ServiceDeps, "keyring" | "doorbell" | "inbox" | "plugins" | "now"> & {
    registry: PluginRegistry;
  },
  plugin: Plugin,
  request: { body: Uint8Array<ArrayBuffer>; headers: Headers },
): Promise<{ duplicate: boolean | null; routed: boolean }> {
  const webhooks = plugin.webhooks!;
  const verdict = await webhooks.verify(request, deps.registry.env(plugin.id));
  if (!verdict.valid) {
    throw new AppError(401, "invalid_signature", `The delivery is refused: ${verdict.reason}`);
  }
  if (!await routingKeyHeld(deps, plugin.id, verdict.routingKey)) {
    return { duplicate: false, routed: false };
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(request.body));
  } catch {
    throw new AppError(400, "invalid_json", "The body is not JSON");
  }
  const headers: Record<string, string> = {};
  for (const name of webhooks.keepHeaders ?? []) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value.slice(0, 1024);
  }
  const delivery: PluginDelivery = { routing_key: verdict.routingKey, headers, body };
  // a provider's id could be longer than a unique index holds: then its digest stands for it
  const dedupeKey = verdict.dedupeKey.length <= MAX_KEY_LENGTH
    ? verdict.dedupeKey
    : toHex(await sha256(new TextEncoder().encode(verdict.dedupeKey)));
  const route = verdict.routingKey.slice(0, MAX_ROUTE_KEY);
  const { duplicate } = await acceptDelivery(deps, {
    provider: plugin.id,
    dedupeKey,
    route,
    body: delivery,
    ciphertext: await encryptSystem(deps.keyring, "inbox", JSON.stringify(delivery)),
  });
  return { duplicate, routed: true };
}

/**
 * How many of a batch's deliveries a plugin handles at once. One at a time, a handler's few
 * round trips to the database (and its upstream) made a batch of a hundred take a hundred times
 * their sum; a few at a time, the stores' group commits share those round trips between them.
 * Deliveries are at least once and in no order anyway (upstreams retry, and so does the inbox), so
 * a handler already copes with one of them running beside another.
 */
const CONCURRENT_DELIVERIES = 8;

/**
 * A plugin's recorded webhooks, a few at a time: the installation its routing key names (any
 * client's: the routing key is how an upstream names one), then the plugin's handler under that
 * client's context and deadline. A delivery no installation claims, or whose handler fails, fails
 * alone and is retried with the inbox's backoff, then set aside with its error.
 */
export function pluginInbox(deps: HostDeps, plugin: Plugin): InboxProcessor {
  const webhooks = plugin.webhooks!;
  return async function processPluginWebhooks(items, failures) {
    // a batch's deliveries mostly come from one upstream account (a shop's orders): its
    // installation and running config are read once per batch, not once per delivery
    const installations = new Map<string, ReturnType<typeof deps.plugins.byRoutingKey>>();
    const runnings = new Map<string, ReturnType<typeof installationFor>>();
    const once = <T>(memo: Map<string, Promise<T>>, key: string, read: () => Promise<T>) => {
      let found = memo.get(key);
      if (!found) memo.set(key, found = read());
      return found;
    };
    const one = async (item: (typeof items)[number]) => {
      try {
        const delivery = await item.body() as PluginDelivery;
        if (typeof delivery?.routing_key !== "string") throw new Error("Unusable payload");
        const installation = await once(
          installations,
          delivery.routing_key,
          () => deps.plugins.byRoutingKey(plugin.id, delivery.routing_key),
        );
        if (!installation) throw new Error("No installation holds this routing key");
        const running = await once(
          runnings,
          installation.client_id,
          () => installationFor(deps, plugin, installation.client_id),
        );
        // turned off: the upstream's news is not for anyone
        if (!running) return;
        await withDeadline(plugin.timeoutMs ?? DEFAULT_TIMEOUT_MS, (signal) =>
          webhooks.handle(
            { id: item.id, body: delivery.body, headers: delivery.headers },
            pluginContext(deps, plugin, installation.client_id, {
              ...running,
              signal,
              sendKey: `inbox:${item.id}`,
            }),
          ));
      } catch (error) {
        failures.set(item.id, { message: (error as Error).message, own: true });
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENT_DELIVERIES, items.length) }, async () => {
        while (next < items.length) await one(items[next++]);
      }),
    );
    return [];
  };
}
