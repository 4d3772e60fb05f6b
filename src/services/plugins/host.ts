import type { ShopifyComplianceIntake } from "../../ports/privacy_intake.ts";
import type { Plugin } from "../../plugin_api/define.ts";
import type { ServiceDeps } from "../deps.ts";
import type { InboxProcessor } from "../inbox.ts";
import type { SubscriptionCache } from "../subscriptions.ts";
import type { PluginFanout } from "./fanout.ts";
import type { PluginRegistry } from "./registry.ts";
import { type HostDeps, pluginRunner } from "./runner.ts";
import { pluginInbox } from "./webhooks.ts";

/** Everything the app needs to run the registered plugins, built once per isolate. */
export interface PluginHost {
  deps: ServiceDeps & HostDeps & { subscriptions: SubscriptionCache };
  fanout: PluginFanout;
  runner: ReturnType<typeof pluginRunner>;
  /** each plugin with webhooks processes the inbox deliveries of its provider name (its id) */
  inboxProcessors: ReadonlyArray<[provider: string, processor: InboxProcessor]>;
}

export function pluginHost(
  deps: ServiceDeps,
  options: {
    registry: PluginRegistry;
    subscriptions: SubscriptionCache;
    fanout: PluginFanout;
    fetch?: typeof fetch;
    retryDelaysMs?: readonly number[];
    /** the privacy workflow's intake, composed after the host */
    privacyIntake?: () => ShopifyComplianceIntake | undefined;
  },
): PluginHost {
  const hostDeps = {
    ...deps,
    registry: options.registry,
    subscriptions: options.subscriptions,
    fetch: options.fetch,
    retryDelaysMs: options.retryDelaysMs,
    privacyIntake: options.privacyIntake,
  };
  return {
    deps: hostDeps,
    fanout: options.fanout,
    runner: pluginRunner(hostDeps),
    inboxProcessors: options.registry.list
      .filter((p: Plugin) => p.webhooks)
      .map((p) => [p.id, pluginInbox(hostDeps, p)] as [string, InboxProcessor]),
  };
}
