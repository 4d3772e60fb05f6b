import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyMigrations, runSqlFile, startDatabase, withAdmin } from "./database.ts";
import { startGateway } from "./gateway.ts";
import { type ChildHandle, spawnChild, startPostgrest, waitForHttp } from "./postgrest.ts";
import { loadOrCreateSecrets, type StackSecrets } from "./secrets.ts";

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const MIGRATIONS = join(ROOT, "supabase", "migrations");
const SEED = join(ROOT, "supabase", "seed.sql");

export interface StackPorts {
  db: number;
  supabase: number;
  postgrest: number;
  postgrestAdmin: number;
}

export const DEV_PORTS: StackPorts = {
  db: 54322,
  supabase: 54321,
  postgrest: 54330,
  postgrestAdmin: 54331,
};

export interface Stack {
  secrets: StackSecrets;
  supabaseUrl: string;
  adminDbUrl: string;
  /** Configuration for the app, in the same keys as .dev.vars / the Workers environment */
  appEnv: Record<string, string>;
  /** pids of every process the stack runs, for checks that nothing is left behind */
  pids: number[];
  created: boolean;
  stop(): Promise<void>;
}

/**
 * A port nothing listens on, for a server started right after. It is picked below the kernel's
 * ephemeral range (the ports outgoing connections get their local end from): a port the kernel
 * hands out for `listen(0)` lies inside that range, and a connection opened meanwhile could take
 * it before our server binds it, which failed a start with "Address in use".
 */
export function freePort(): Promise<number> {
  let lowest = 32768;
  try {
    lowest = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0],
    );
  } catch {
    // not Linux: keep the usual default
  }
  const top = Number.isFinite(lowest) ? Math.min(lowest, 65536) : 10000;
  for (let attempt = 0; top > 10000 && attempt < 100; attempt++) {
    const port = 10000 + Math.floor(Math.random() * (top - 10000));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return Promise.resolve(port);
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return Promise.resolve(port);
}

export async function freePorts(): Promise<StackPorts> {
  return {
    db: await freePort(),
    supabase: await freePort(),
    postgrest: await freePort(),
    postgrestAdmin: await freePort(),
  };
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  try {
    return Number((await Deno.readTextFile(join(dataDir, "postmaster.pid"))).split("\n")[0]);
  } catch {
    return null;
  }
}

/**
 * Starts the database side of the stack: embedded PostgreSQL (data kept in `dir`), migrations,
 * the seed on first creation, PostgREST and the Supabase-style gateway. Progress goes to `log`.
 */
export async function startStack(options: {
  dir: string;
  ports: StackPorts;
  seed: boolean;
  log: (line: string) => void;
  /** extra PostgreSQL settings (`name=value`) */
  postgresSettings?: string[];
}): Promise<Stack> {
  const { dir, ports, log } = options;
  await Deno.mkdir(dir, { recursive: true });
  const secrets = await loadOrCreateSecrets(join(dir, "secrets.json"));
  const stoppers: Array<() => Promise<void>> = [];
  const children: ChildHandle[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) {
      await s().catch((e) => log(`while stopping: ${(e as Error).message}`));
    }
    stoppers.length = 0;
  };
  try {
    log(`starting PostgreSQL on 127.0.0.1:${ports.db} (data in ${join(dir, "pg")})`);
    const { db, created } = await startDatabase({
      dataDir: join(dir, "pg"),
      port: ports.db,
      password: secrets.db_password,
      log,
      settings: options.postgresSettings,
    });
    stoppers.push(() => db.stop());
    const applied = await applyMigrations(db.adminUrl, MIGRATIONS, log);
    log(
      applied.length ? `${applied.length} migration(s) applied` : "database schema is up to date",
    );
    await runSqlFile(db.adminUrl, join(ROOT, "tools", "stack", "local_roles.sql"));
    await withAdmin(db.adminUrl, async (c) => {
      const { rows } = await c.query(
        "select format('alter role authenticator with login password %L', $1::text) as sql",
        [secrets.authenticator_password],
      );
      await c.query(rows[0].sql);
    });
    if (created && options.seed) {
      await runSqlFile(db.adminUrl, SEED);
      log("seeded the demo client");
    }

    log(`starting PostgREST on 127.0.0.1:${ports.postgrest}`);
    const postgrest = startPostgrest({
      dbUrl: `postgres://authenticator:${
        encodeURIComponent(secrets.authenticator_password)
      }@127.0.0.1:${ports.db}/postgres`,
      port: ports.postgrest,
      adminPort: ports.postgrestAdmin,
      jwtSecret: secrets.jwt_secret,
      log: (line) => log(`postgrest: ${line}`),
    });
    children.push(postgrest);
    stoppers.push(() => postgrest.stop());
    await waitForHttp(`http://127.0.0.1:${ports.postgrestAdmin}/ready`, "PostgREST");

    const gateway = startGateway({
      port: ports.supabase,
      postgrestUrl: `http://127.0.0.1:${ports.postgrest}`,
      apiKeys: [secrets.anon_key, secrets.service_role_key],
    });
    stoppers.push(() => gateway.close());
    log(`Supabase API (PostgREST behind /rest/v1) on ${gateway.url}`);

    const pgPid = await postmasterPid(join(dir, "pg"));
    return {
      secrets,
      created,
      supabaseUrl: gateway.url,
      adminDbUrl: db.adminUrl,
      pids: [...(pgPid ? [pgPid] : []), ...children.map((c) => c.pid)],
      appEnv: {
        ENVIRONMENT: "development",
        LOG_LEVEL: "info",
        SUPABASE_URL: gateway.url,
        SUPABASE_ANON_KEY: secrets.anon_key,
        SUPABASE_SERVICE_ROLE_KEY: secrets.service_role_key,
        SUPABASE_JWT_SECRET: secrets.jwt_secret,
        MASTER_KEYS: secrets.master_keys,
        API_KEY_PEPPER: secrets.api_key_pepper,
        META_APP_SECRET: secrets.meta_app_secret,
        META_VERIFY_TOKEN: secrets.meta_verify_token,
        SHOPIFY_API_SECRET: secrets.shopify_api_secret,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export { spawnChild, waitForHttp };
