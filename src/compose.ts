import { createApp } from "./app.ts";
import type { Env } from "./config/env.ts";
import { jsonLogger } from "./adapters/logging/json_logger.ts";
import { dataKeys } from "./adapters/supabase/data_keys.ts";
import { createDatabaseAccess } from "./adapters/supabase/database.ts";
import { supabaseRequestLogSink } from "./adapters/supabase/request_log_sink.ts";
import { importPepper } from "./core/auth/api_keys.ts";
import { parseKeyring } from "./core/crypto/envelope.ts";

/** Everything both composition roots share: from parsed configuration to a ready app. */
export async function composeApp(env: Env, options: { authCacheSeconds?: number } = {}) {
  const logger = jsonLogger({ level: env.LOG_LEVEL, base: { service: "glooft-edge" } });
  const db = createDatabaseAccess({
    url: env.SUPABASE_URL,
    anonKey: env.SUPABASE_ANON_KEY,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
    jwtSecret: env.SUPABASE_JWT_SECRET,
  });
  const keyring = await parseKeyring(env.MASTER_KEYS, env.MASTER_KEY_ACTIVE);
  const requestLog = supabaseRequestLogSink(db.service);
  const deps = {
    env,
    db,
    logger,
    requestLog,
    keyring,
    pepper: await importPepper(env.API_KEY_PEPPER),
    dataKeys: dataKeys({ keyring, service: db.service }),
    authCacheSeconds: options.authCacheSeconds,
  };
  return { app: createApp(deps), deps };
}
