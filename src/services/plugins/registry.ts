import * as z from "zod";
import type { Plugin } from "../../plugin_api/define.ts";
import type { PluginEventType } from "../../plugin_api/events.ts";
import { registryProblems } from "../../plugin_api/validate.ts";

/** The registry is malformed: the app refuses to start, naming every problem. */
export class PluginRegistryError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid plugins: ${problems.join("; ")}`);
    this.name = "PluginRegistryError";
  }
}

export interface PluginRegistry {
  readonly list: readonly Plugin[];
  get(id: string): Plugin | undefined;
  /** whether any plugin subscribes to `type`: the free check on every event's path */
  wants(type: string): boolean;
  /** the plugins subscribed to `type` */
  subscribersOf(type: string): readonly Plugin[];
  /** the config of a plugin that is on by default, for a client that did not configure it */
  defaults(id: string): unknown;
  /** the config a client may send, as JSON Schema (draft 2020-12) */
  configSchema(id: string): Record<string, unknown>;
  /** a deployment setting a plugin declared (`env` or `optionalEnv`) */
  env(id: string): { get(name: string): string | undefined };
  /** the hosts a plugin's ctx.fetch may call: its `upstreams`, and those its settings name */
  upstreams(id: string): readonly string[];
}

/**
 * Checks every plugin (pluginProblems: shape, ids, config schema, handlers) and the deployment
 * settings they declare, and indexes them. Throws PluginRegistryError naming every problem: a
 * malformed plugin stops the app at start-up, not at its first event.
 */
export function pluginRegistry(
  plugins: readonly Plugin[],
  environment: Readonly<Record<string, string | undefined>> = {},
): PluginRegistry {
  const problems = registryProblems(plugins);
  const upstreams = new Map<string, string[]>();
  for (const plugin of plugins) {
    for (const name of plugin.env ?? []) {
      if (!environment[name]) problems.push(`plugin ${plugin.id}: env ${name} is not set`);
    }
    const hosts = [...plugin.upstreams ?? []];
    for (const name of plugin.upstreamsFromEnv ?? []) {
      const value = environment[name];
      if (!value) continue;
      try {
        hosts.push(new URL(value).hostname.toLowerCase());
      } catch {
        problems.push(`plugin ${plugin.id}: env ${name} is not a URL`);
      }
    }
    upstreams.set(plugin.id, hosts);
  }
  if (problems.length) throw new PluginRegistryError(problems);

  const byId = new Map(plugins.map((p) => [p.id, p]));
  const byType = new Map<string, Plugin[]>();
  for (const plugin of plugins) {
    for (const type of Object.keys(plugin.on ?? {}) as PluginEventType[]) {
      byType.set(type, [...byType.get(type) ?? [], plugin]);
    }
  }
  const defaults = new Map(
    plugins.filter((p) => p.enabledByDefault).map((p) => [p.id, p.config.parse({})]),
  );
  const schemas = new Map(
    plugins.map((p) => [
      p.id,
      z.toJSONSchema(p.config, { io: "input" }) as Record<string, unknown>,
    ]),
  );
  return {
    list: plugins,
    get: (id) => byId.get(id),
    wants: (type) => byType.has(type),
    subscribersOf: (type) => byType.get(type) ?? [],
    defaults: (id) => defaults.get(id),
    configSchema: (id) => schemas.get(id)!,
    env(id) {
      const plugin = byId.get(id);
      const declared = new Set([...plugin?.env ?? [], ...plugin?.optionalEnv ?? []]);
      return { get: (name) => (declared.has(name) ? environment[name] || undefined : undefined) };
    },
    upstreams: (id) => upstreams.get(id) ?? [],
  };
}
