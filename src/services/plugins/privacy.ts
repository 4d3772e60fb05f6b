import type { Plugin } from "../../plugin_api/define.ts";
import type { PluginContact } from "../../plugin_api/context.ts";
import type { ContactRef } from "../../ports/contacts.ts";
import { pluginContext } from "./context.ts";
import { DEFAULT_TIMEOUT_MS, type HostDeps, installationFor, withDeadline } from "./runner.ts";

type PrivacyCall = "export" | "erase";

async function eachPlugin<T>(
  deps: HostDeps,
  clientId: string,
  ref: ContactRef,
  call: PrivacyCall,
): Promise<Array<{ plugin: Plugin; result: T }>> {
  const record = await deps.contacts.find(clientId, ref);
  if (!record) return [];
  const contact: PluginContact = {
    id: record.id,
    waId: record.wa_id,
    userId: record.user_id,
    consent: record.consent_status,
    lastInboundAt: record.last_inbound_at,
  };
  const out: Array<{ plugin: Plugin; result: T }> = [];
  for (const plugin of deps.registry.list) {
    const privacy = plugin.privacy;
    if (!privacy) continue;
    const running = await installationFor(deps, plugin, clientId);
    if (!running) continue;
    const result = await withDeadline(plugin.timeoutMs ?? DEFAULT_TIMEOUT_MS, (signal) => {
      const ctx = pluginContext(deps, plugin, clientId, {
        ...running,
        signal,
        sendKey: `privacy:${crypto.randomUUID()}`,
      });
      return (call === "export"
        ? privacy.export(contact, ctx)
        : privacy.erase(contact, ctx)) as Promise<T>;
    });
    out.push({ plugin, result });
  }
  return out;
}

/**
 * What every plugin that is on for the client holds about a contact, by plugin id (the privacy
 * workflows' export). A plugin that fails fails the export: an incomplete one must not pass for
 * complete.
 */
export async function exportFromPlugins(
  deps: HostDeps,
  clientId: string,
  ref: ContactRef,
): Promise<Record<string, unknown>> {
  const found = await eachPlugin<unknown>(deps, clientId, ref, "export");
  return Object.fromEntries(found.map(({ plugin, result }) => [plugin.id, result ?? null]));
}

/** Has every plugin that is on for the client erase what it holds about a contact; their ids. */
export async function eraseFromPlugins(
  deps: HostDeps,
  clientId: string,
  ref: ContactRef,
): Promise<string[]> {
  return (await eachPlugin<void>(deps, clientId, ref, "erase")).map(({ plugin }) => plugin.id);
}
