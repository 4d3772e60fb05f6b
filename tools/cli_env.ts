import { join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { ROOT } from "./stack/mod.ts";

/**
 * Configuration for operator commands: the process environment (production: export the same
 * variables the app uses, or pass `deno run --env-file`), falling back to the running local stack's
 * .dev/secrets.json so `deno task client list` just works in development.
 */
export async function operatorEnv(): Promise<Record<string, string>> {
  const env = Deno.env.toObject();
  if (env.SUPABASE_URL && env.SUPABASE_SERVICE_ROLE_KEY) return env;
  const dir = env.GLOOFT_DEV_DIR ?? join(ROOT, ".dev");
  try {
    const secrets = JSON.parse(await Deno.readTextFile(join(dir, "secrets.json")));
    return {
      SUPABASE_URL: "http://127.0.0.1:54321",
      SUPABASE_SERVICE_ROLE_KEY: secrets.service_role_key,
      API_KEY_PEPPER: secrets.api_key_pepper,
      MASTER_KEYS: secrets.master_keys,
      ...env,
    };
  } catch {
    return env;
  }
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
