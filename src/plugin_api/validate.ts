import * as z from "zod";
import { PLUGIN_EVENT_TYPES } from "./events.ts";
import type { Plugin } from "./define.ts";

/** kebab-case and within plugin_installations.plugin_id's check */
export const PLUGIN_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const SECRET_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const ENV_NAME = /^[A-Z][A-Z0-9_]{1,62}$/;
const HOST_PATTERN =
  /^(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const ROUTE_PATH = /^\/[a-z0-9][a-z0-9/_-]{0,100}$/;
/** names the core's own providers and routes use (`meta` in the inbox, /webhooks/whatsapp) */
const RESERVED_IDS = new Set(["meta", "whatsapp", "plugins"]);
const KNOWN_KEYS = new Set([
  "id",
  "version",
  "name",
  "description",
  "enabledByDefault",
  "config",
  "secrets",
  "upstreams",
  "env",
  "optionalEnv",
  "upstreamsFromEnv",
  "on",
  "webhooks",
  "routingKey",
  "routes",
  "schedule",
  "privacy",
  "timeoutMs",
  "maxAttempts",
]);

const isFunction = (v: unknown): v is (...args: never[]) => unknown => typeof v === "function";
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const intIn = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** What is wrong with a plugin definition, each problem one sentence; empty when it is sound. */
export function pluginProblems(plugin: unknown): string[] {
  if (!isObject(plugin)) return ["is not an object made by definePlugin()"];
  const p = plugin as Record<string, unknown>;
  const problems: string[] = [];
  const bad = (what: string) => problems.push(what);

  for (const key of Object.keys(p)) if (!KNOWN_KEYS.has(key)) bad(`has an unknown field ${key}`);
  if (typeof p.id !== "string" || p.id.length < 2 || p.id.length > 63 || !PLUGIN_ID.test(p.id)) {
    bad("id must be kebab-case, 2 to 63 characters (a-z, 0-9, single hyphens)");
  } else if (RESERVED_IDS.has(p.id)) bad(`id ${p.id} is reserved for the core`);
  if (typeof p.version !== "string" || !SEMVER.test(p.version)) bad("version must be semver");
  if (typeof p.name !== "string" || !p.name.trim() || p.name.length > 100) {
    bad("name must be 1 to 100 characters");
  }
  if (
    p.description !== undefined &&
    (typeof p.description !== "string" || p.description.length > 1000)
  ) {
    bad("description must be at most 1000 characters");
  }

  if (!(p.config instanceof z.ZodObject)) bad("config must be a zod object schema");
  else {
    try {
      z.toJSONSchema(p.config, { io: "input" });
    } catch (error) {
      bad(`config cannot be published as JSON Schema: ${(error as Error).message}`);
    }
    if (p.enabledByDefault === true && !p.config.safeParse({}).success) {
      bad("config must accept {} (every field optional or defaulted): the plugin is on by default");
    }
  }
  if (p.enabledByDefault !== undefined && typeof p.enabledByDefault !== "boolean") {
    bad("enabledByDefault must be a boolean");
  }

  const names = (field: string, pattern: RegExp, what: string) => {
    const list = p[field];
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      bad(`${field} must be a list of ${what}`);
      return [];
    }
    for (const name of list) {
      if (typeof name !== "string" || !pattern.test(name)) {
        bad(`${field}: ${String(name)} is not ${what}`);
      }
    }
    if (new Set(list).size !== list.length) bad(`${field} names one twice`);
    return list as string[];
  };
  const secrets = names("secrets", SECRET_NAME, "a snake_case name");
  names("upstreams", HOST_PATTERN, "a host name (or *.domain)");
  const env = names("env", ENV_NAME, "an UPPER_SNAKE_CASE variable name");
  const optionalEnv = names("optionalEnv", ENV_NAME, "an UPPER_SNAKE_CASE variable name");
  for (const name of optionalEnv) if (env.includes(name)) bad(`env ${name} is also optional`);
  for (const name of names("upstreamsFromEnv", ENV_NAME, "an UPPER_SNAKE_CASE variable name")) {
    if (!env.includes(name) && !optionalEnv.includes(name)) {
      bad(`upstreamsFromEnv: ${name} is not a declared env or optionalEnv`);
    }
  }
  if (p.config instanceof z.ZodObject) {
    for (const s of secrets) if (s in p.config.shape) bad(`secret ${s} is also a config field`);
  }

  if (p.on !== undefined) {
    if (!isObject(p.on)) bad("on must map event types to handlers");
    else {
      for (const [type, sub] of Object.entries(p.on)) {
        if (!(PLUGIN_EVENT_TYPES as readonly string[]).includes(type)) {
          bad(`on: ${type} is not an event type (${PLUGIN_EVENT_TYPES.join(", ")})`);
        } else if (
          !isFunction(sub) &&
          !(isObject(sub) && isFunction(sub.handle) &&
            (sub.filter === undefined || isFunction(sub.filter)))
        ) {
          bad(`on: ${type} must be a handler, or {filter?, handle}`);
        }
      }
    }
  }

  if (p.webhooks !== undefined) {
    const w = p.webhooks;
    if (!isObject(w) || !isFunction(w.verify) || !isFunction(w.handle)) {
      bad("webhooks must have verify() and handle()");
    } else if (w.keepHeaders !== undefined) {
      if (
        !Array.isArray(w.keepHeaders) ||
        w.keepHeaders.some((h) => typeof h !== "string" || h !== h.toLowerCase())
      ) {
        bad("webhooks.keepHeaders must be a list of lower-case header names");
      }
    }
    if (p.routingKey === undefined) {
      bad("webhooks need routingKey: a webhook finds its installation by it");
    }
  }
  if (p.routingKey !== undefined) {
    const r = p.routingKey;
    if (
      !isObject(r) || !isFunction(r.fromConfig) || (r.verify !== undefined && !isFunction(r.verify))
    ) {
      bad("routingKey must have fromConfig() and may have verify()");
    }
  }

  if (p.routes !== undefined) {
    if (!Array.isArray(p.routes)) bad("routes must be a list");
    else {
      const seen = new Set<string>();
      for (const r of p.routes) {
        if (
          !isObject(r) || !["GET", "POST"].includes(r.method as string) ||
          typeof r.path !== "string" || !ROUTE_PATH.test(r.path) || !isFunction(r.handler)
        ) {
          bad("routes: each needs method GET or POST, a path like /install and a handler");
          continue;
        }
        const key = `${r.method} ${r.path}`;
        if (seen.has(key)) bad(`routes: ${key} twice`);
        seen.add(key);
      }
    }
  }
  if (p.schedule !== undefined) {
    const s = p.schedule;
    if (!isObject(s) || !intIn(s.everyMinutes, 1, 1440) || !isFunction(s.run)) {
      bad("schedule must have everyMinutes (1 to 1440) and run()");
    }
    if (p.enabledByDefault === true) {
      bad("schedule runs for the clients that installed the plugin: not with enabledByDefault");
    }
  }
  if (p.privacy !== undefined) {
    const s = p.privacy;
    if (!isObject(s) || !isFunction(s.export) || !isFunction(s.erase)) {
      bad("privacy must have both export() and erase()");
    }
  }
  if (p.timeoutMs !== undefined && !intIn(p.timeoutMs, 100, 60_000)) {
    bad("timeoutMs must be an integer from 100 to 60000");
  }
  if (p.maxAttempts !== undefined && !intIn(p.maxAttempts, 1, 20)) {
    bad("maxAttempts must be an integer from 1 to 20");
  }
  return problems;
}

/** What is wrong with a registry: each plugin's problems, prefixed with its id, and repeated ids. */
export function registryProblems(plugins: readonly Plugin[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  plugins.forEach((plugin, i) => {
    const name = isObject(plugin) && typeof plugin.id === "string" ? plugin.id : `#${i + 1}`;
    for (const problem of pluginProblems(plugin)) problems.push(`plugin ${name}: ${problem}`);
    if (ids.has(name)) problems.push(`plugin ${name}: registered twice`);
    ids.add(name);
  });
  return problems;
}
