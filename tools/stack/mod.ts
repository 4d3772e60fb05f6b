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
  /**
   * Faults for tests that own this stack (never `deno task dev`'s): PostgreSQL and PostgREST stop
   * and start again under the running stack, on the same ports, data and secrets.
   */
  control: StackControl;
  stop(): Promise<void>;
}

export interface StackControl {
  /** PostgreSQL stops as on a crash (immediate shutdown: no checkpoint, WAL recovery at start) */
  crashDatabase(): Promise<void>;
  /** PostgreSQL starts again on the same data directory; resolves once it accepts connections */
  startDatabase(): Promise<void>;
  /** PostgREST stops (SIGTERM, then SIGKILL after 5 s) */
  stopPostgrest(): Promise<void>;
  /** PostgREST starts again; resolves once it has loaded its schema cache */
  startPostgrest(): Promise<void>;
  /** the processes that run now (they change across restarts) */
  pids(): Promise<{ postgres: number | null; postgrest: number | null }>;
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

/** True while `pid` runs (an exited process not yet reaped counts as gone). */
function processRuns(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
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
    const database = () =>
      startDatabase({
        dataDir: join(dir, "pg"),
        port: ports.db,
        password: secrets.db_password,
        log,
        settings: options.postgresSettings,
      });
    const first = await database();
    const created = first.created;
    let db = first.db;
    let dbRunning = true;
    stoppers.push(() => dbRunning ? db.stop() : Promise.resolve());
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
    const postgrestOptions = {
      dbUrl: `postgres://authenticator:${
        encodeURIComponent(secrets.authenticator_password)
      }@127.0.0.1:${ports.db}/postgres`,
      port: ports.postgrest,
      adminPort: ports.postgrestAdmin,
      jwtSecret: secrets.jwt_secret,
      log: (line: string) => log(`postgrest: ${line}`),
    };
    let postgrest: ChildHandle | null = startPostgrest(postgrestOptions);
    children.push(postgrest);
    stoppers.push(() => postgrest?.stop() ?? Promise.resolve());
    const postgrestReady = () =>
      waitForHttp(`http://127.0.0.1:${ports.postgrestAdmin}/ready`, "PostgREST");
    await postgrestReady();

    const gateway = startGateway({
      port: ports.supabase,
      postgrestUrl: `http://127.0.0.1:${ports.postgrest}`,
      apiKeys: [secrets.anon_key, secrets.service_role_key],
    });
    stoppers.push(() => gateway.close());
    log(`Supabase API (PostgREST behind /rest/v1) on ${gateway.url}`);

    const pgPid = await postmasterPid(join(dir, "pg"));
    const control: StackControl = {
      async crashDatabase() {
        const pid = await postmasterPid(join(dir, "pg"));
        if (!dbRunning || !pid) throw new Error("PostgreSQL is not running");
        // SIGQUIT is PostgreSQL's immediate shutdown: what a crash leaves, without the stale
        // shared memory a SIGKILL of the postmaster would leave behind its children
        Deno.kill(pid, "SIGQUIT");
        dbRunning = false;
        while (processRuns(pid)) await new Promise((r) => setTimeout(r, 20));
      },
      async startDatabase() {
        if (dbRunning) throw new Error("PostgreSQL is already running");
        ({ db } = await database());
        dbRunning = true;
      },
      async stopPostgrest() {
        await postgrest?.stop();
        postgrest = null;
      },
      async startPostgrest() {
        if (postgrest) throw new Error("PostgREST is already running");
        postgrest = startPostgrest(postgrestOptions);
        await postgrestReady();
      },
      async pids() {
        return {
          postgres: dbRunning ? await postmasterPid(join(dir, "pg")) : null,
          postgrest: postgrest?.pid ?? null,
        };
      },
    };
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
        SHOPIFY_API_KEY: LOCAL_SHOPIFY_API_KEY,
        SHOPIFY_API_SECRET: secrets.shopify_api_secret,
      },
      control,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export { spawnChild, waitForHttp };

/** The local Shopify app's client id: public (it is the session tokens' audience), not a secret. */
export const LOCAL_SHOPIFY_API_KEY = "glooft-local-shopify-app";
