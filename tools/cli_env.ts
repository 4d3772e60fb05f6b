import { join, resolve } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { isAlive } from "./stack/lock.ts";
import { ROOT } from "./stack/mod.ts";

/** The keys a local stack provides; none of them is ever mixed in from the environment. */
const STACK_KEYS = [
  "SUPABASE_URL",
  "SUPABASE_SERVICE_ROLE_KEY",
  "API_KEY_PEPPER",
  "MASTER_KEYS",
  "MASTER_KEY_ACTIVE",
];

function refuse(tool: string, message: string): never {
  console.error(`${tool}: ${message}`);
  Deno.exit(78);
}

/**
 * The running stack kept in `dir`, as its launcher (tools/dev.ts) describes it: stack.json is
 * written once everything is up and removed when it stops, and stack.lock names the launcher.
 * A stack started with `--ports auto` listens wherever it found free ports, so the stack's own
 * file is the only place its URL may come from; one that is not running has no URL at all.
 */
async function runningStack(tool: string, dir: string) {
  const start = dir === join(ROOT, ".dev") ? "`deno task dev`" : `\`deno task dev --dir ${dir}\``;
  let info: { supabase_url?: unknown; pids?: unknown };
  try {
    info = JSON.parse(await Deno.readTextFile(join(dir, "stack.json")));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      refuse(tool, `cannot read ${join(dir, "stack.json")}: ${(error as Error).message}`);
    }
    refuse(
      tool,
      `no local stack is running from ${dir} (it writes stack.json there once it is up). ` +
        `Start it with ${start}, pass --dir for a stack kept elsewhere, or ` +
        "export SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY to work on a deployed project.",
    );
  }
  const launcher = Array.isArray(info.pids) ? Number(info.pids[0]) : NaN;
  let holder = NaN;
  try {
    holder = Number((await Deno.readTextFile(join(dir, "stack.lock"))).trim());
  } catch { /* no lock: not running */ }
  if (typeof info.supabase_url !== "string" || holder !== launcher || !isAlive(launcher)) {
    refuse(
      tool,
      `the local stack in ${dir} is not running (its stack.json is left over from pid ` +
        `${Number.isNaN(launcher) ? "?" : launcher}, which has stopped): start it with ${start}.`,
    );
  }
  return { supabaseUrl: info.supabase_url, pid: launcher };
}

/**
 * Configuration for operator commands. `--dir DIR` (or, without it, no SUPABASE_URL and
 * SUPABASE_SERVICE_ROLE_KEY in the environment) means the local stack running from DIR (default
 * .dev): its URL from its stack.json and its keys from its secrets.json, or a refusal that says
 * what to do when it is not running; it never falls back to fixed ports, where another stack, or
 * anything else, may listen and be handed this stack's service-role key. Otherwise the process
 * environment (production: export the variables the app uses, or `deno run --env-file`). Which
 * one is used is said on stderr, so `--json` output stays clean.
 */
export async function operatorEnv(tool: string, dir?: string): Promise<Record<string, string>> {
  const env = Deno.env.toObject();
  if (dir === undefined && (env.SUPABASE_URL || env.SUPABASE_SERVICE_ROLE_KEY)) {
    let origin = "not a URL";
    try {
      origin = new URL(env.SUPABASE_URL).origin;
    } catch { /* requireKeys or the client names the problem */ }
    console.error(`${tool}: using SUPABASE_URL from the environment (${origin})`);
    return env;
  }
  const stackDir = resolve(dir ?? join(ROOT, ".dev"));
  const stack = await runningStack(tool, stackDir);
  let secrets: Record<string, string>;
  try {
    secrets = JSON.parse(await Deno.readTextFile(join(stackDir, "secrets.json")));
  } catch (error) {
    refuse(tool, `cannot read ${join(stackDir, "secrets.json")}: ${(error as Error).message}`);
  }
  console.error(
    `${tool}: using the local stack in ${stackDir} (pid ${stack.pid}), Supabase API ${stack.supabaseUrl}`,
  );
  const own = Object.fromEntries(Object.entries(env).filter(([k]) => !STACK_KEYS.includes(k)));
  return {
    ...own,
    SUPABASE_URL: stack.supabaseUrl,
    SUPABASE_SERVICE_ROLE_KEY: secrets.service_role_key,
    API_KEY_PEPPER: secrets.api_key_pepper,
    MASTER_KEYS: secrets.master_keys,
  };
}

export function requireKeys(env: Record<string, string>, keys: string[]): void {
  const missing = keys.filter((k) => !env[k]);
  if (missing.length) {
    console.error(
      `Missing configuration: ${missing.join(", ")}. Export them (see README.md, Configuration) ` +
        "or start the local stack with `deno task dev`.",
    );
    Deno.exit(78);
  }
}

export function serviceClientFrom(env: Record<string, string>): SupabaseClient {
  return createClient(env.SUPABASE_URL, env.SUPABASE_SERVICE_ROLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}
