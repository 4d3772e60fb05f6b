import process from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import pg from "pg";
import { freePort, ROOT } from "./stack/mod.ts";

const HELP = `deno task supabase:compat [options]

Checks the migrations the way hosted Supabase runs them, on Debian's PostgreSQL 15 (the embedded
stack of the tests is PostgreSQL 18, run as a superuser):

  1. starts a throwaway cluster with pg_cron and plpgsql_check (bootstrap superuser supabase_admin)
     and gives it the roles, schemas, grants and extensions a hosted project has
     (tools/supabase_compat/hosted_roles.sql): postgres owns the database but is no superuser;
  2. applies every migration as postgres with the Supabase CLI (supabase db push --db-url);
  3. supabase db lint (plpgsql_check over every schema): no finding at all;
  4. supabase db advisors --type all: no ERROR, and every other finding listed with its reason in
     docs/supabase.md ("Accepted findings"), which lists nothing that is not found;
  5. retention on pg_cron: the migration registered the job glooft-retention; a job running the
     same procedure runs under pg_cron, records a run of every class and purges pg_cron's old run
     history; the sweeper's entry runs as service_role.

Needs the Debian 12 packages postgresql-15, postgresql-15-cron and postgresql-15-plpgsql-check
(.ci/run installs them) and npm's packages (npm ci). Run as root, the cluster runs as the system
user postgres that the packages create. Exits 1 and says why on any failure.

Options:
  --pg-bin DIR   PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
  --keep         leave the cluster running and print how to reach it, instead of removing it
  -h, --help     show this help`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "pg-bin": { type: "string", default: "/usr/lib/postgresql/15/bin" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

const PG_BIN = values["pg-bin"]!;
const ACCEPTED_DOC = "docs/supabase.md";
const RETENTION_JOB = {
  name: "glooft-retention",
  schedule: "*/10 * * * *",
  command:
    "call private.run_retention('pg_cron', batch_rows => 500, pause => interval '500 milliseconds')",
};
const decoder = new TextDecoder();
const step = (text: string) => console.log(`\n==> ${text}`);
const secret = () => crypto.randomUUID().replaceAll("-", "");

class Failure extends Error {}

/** The OS user PostgreSQL runs as: ourselves, or `postgres` when we are root (it refuses root). */
async function pgUser(): Promise<{ asRoot: boolean; uid: number; gid: number } | null> {
  if (Deno.uid() !== 0) return null;
  const out = await new Deno.Command("id", { args: ["-u", "postgres"] }).output();
  const gid = await new Deno.Command("id", { args: ["-g", "postgres"] }).output();
  if (!out.success) {
    throw new Failure("Running as root needs the system user postgres (Debian's postgresql-15)");
  }
  return {
    asRoot: true,
    uid: Number(decoder.decode(out.stdout)),
    gid: Number(decoder.decode(gid.stdout)),
  };
}

async function run(
  program: string,
  args: string[],
  options: { asPostgres?: boolean; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, cmdArgs] = options.asPostgres && Deno.uid() === 0
    ? ["runuser", ["-u", "postgres", "--", program, ...args]]
    : [program, args];
  const out = await new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: ROOT,
    env: options.env,
    stdin: "null",
    signal: AbortSignal.timeout(options.timeoutMs ?? 300_000),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The Supabase CLI pinned in package.json, run on this Deno as `deno task supabase` does. */
async function supabase(args: string[]) {
  const res = await run(Deno.execPath(), [
    "run",
    "-A",
    join(ROOT, "node_modules", "supabase", "dist", "supabase.js"),
    ...args,
  ], { env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" } });
  if (res.code !== 0) {
    throw new Failure(`supabase ${args[0]} ${args[1]} failed:\n${res.stdout}\n${res.stderr}`);
  }
  return res.stdout;
}

interface Finding {
  name: string;
  level: string;
  categories: string[];
  detail: string;
  metadata: { schema?: string; name?: string; fkey_name?: string };
}

/** The object a finding is about, as docs/supabase.md names it: schema.object. */
const objectOf = (f: Finding) =>
  `${f.metadata.schema ?? "?"}.${f.metadata.fkey_name ?? f.metadata.name ?? "?"}`;

/** The rows of docs/supabase.md's "Accepted findings" table: lint, object (or "any"), why. */
async function acceptedFindings(): Promise<Array<{ name: string; object: string }>> {
  const text = await Deno.readTextFile(join(ROOT, ACCEPTED_DOC));
  const section = text.split(/^## /m).find((s) => s.startsWith("Accepted findings"));
  if (!section) throw new Failure(`${ACCEPTED_DOC} has no "## Accepted findings" section`);
  const rows: Array<{ name: string; object: string }> = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z_]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!name) continue;
    const object = cells[2] === "any" ? "any" : /^`([^`]+)`$/.exec(cells[2] ?? "")?.[1];
    if (!object || !cells[4]) throw new Failure(`${ACCEPTED_DOC}: a row lacks its object or why`);
    rows.push({ name, object });
  }
  return rows;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== null) return found;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Failure(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

async function main(): Promise<void> {
  for (const program of ["initdb", "pg_ctl", "postgres"]) {
    try {
      await Deno.stat(join(PG_BIN, program));
    } catch {
      throw new Failure(
        `${join(PG_BIN, program)} is missing: apt-get install postgresql-15 postgresql-15-cron ` +
          "postgresql-15-plpgsql-check (or pass --pg-bin)",
      );
    }
  }
  const user = await pgUser();
  const dir = await Deno.makeTempDir({ prefix: "supabase-compat-" });
  const data = join(dir, "data");
  const port = await freePort();
  const passwords = { admin: secret(), postgres: secret(), authenticator: secret() };
  await Deno.writeTextFile(join(dir, "pwfile"), passwords.admin);
  if (user) {
    await Deno.chown(dir, user.uid, user.gid);
    await Deno.chown(join(dir, "pwfile"), user.uid, user.gid);
  }
  const pgCtl = (args: string[]) => run(join(PG_BIN, "pg_ctl"), args, { asPostgres: true });
  let started = false;
  const stop = async () => {
    if (started) await pgCtl(["-D", data, "-m", "fast", "-w", "stop"]);
    started = false;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => stop().finally(() => Deno.exit(130)));
  }
  try {
    step(`PostgreSQL 15 with pg_cron and plpgsql_check on 127.0.0.1:${port} (${dir})`);
    const init = await run(join(PG_BIN, "initdb"), [
      "-D",
      data,
      "-U",
      "supabase_admin",
      `--pwfile=${join(dir, "pwfile")}`,
      "--auth=scram-sha-256",
      "-E",
      "UTF8",
      "--no-locale",
    ], { asPostgres: true });
    if (init.code !== 0) throw new Failure(`initdb failed:\n${init.stderr}`);
    await Deno.writeTextFile(
      join(data, "postgresql.conf"),
      [
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        "shared_preload_libraries = 'pg_cron'",
        "cron.database_name = 'postgres'",
        // jobs run in background workers: no connection, so no password for pg_cron to hold
        "cron.use_background_workers = on",
        "max_worker_processes = 16",
        // a throwaway cluster: durability buys nothing here
        "fsync = off",
        "",
      ].join("\n"),
      { append: true },
    );
    const start = await pgCtl([
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
    if (start.code !== 0) {
      const log = await Deno.readTextFile(join(dir, "server.log")).catch(() => "");
      throw new Failure(`PostgreSQL did not start:\n${start.stderr}\n${log}`);
    }
    started = true;
    const url = (role: string, password: string) =>
      `postgresql://${role}:${password}@127.0.0.1:${port}/postgres?sslmode=disable`;
    const connect = async (role: string, password: string) => {
      const client = new pg.Client({ connectionString: url(role, password) });
      await client.connect();
      return client;
    };

    step(
      "roles, schemas and extensions of a hosted project (tools/supabase_compat/hosted_roles.sql)",
    );
    const admin = await connect("supabase_admin", passwords.admin);
    try {
      await admin.query(
        await Deno.readTextFile(join(ROOT, "tools", "supabase_compat", "hosted_roles.sql")),
      );
      await admin.query(`alter role postgres password '${passwords.postgres}'`);
      await admin.query(`alter role authenticator password '${passwords.authenticator}'`);
    } finally {
      await admin.end();
    }
    const owner = url("postgres", passwords.postgres);

    step("every migration, applied as postgres (no superuser) by supabase db push");
    console.log((await supabase(["db", "push", "--db-url", owner, "--yes"])).trim());
    const db = await connect("postgres", passwords.postgres);
    try {
      const { rows: [me] } = await db.query(
        "select rolsuper, (select count(*)::int from supabase_migrations.schema_migrations) as n " +
          "from pg_roles where rolname = current_user",
      );
      const files = [...Deno.readDirSync(join(ROOT, "supabase", "migrations"))]
        .filter((f) => f.name.endsWith(".sql")).length;
      if (me.rolsuper) throw new Failure("postgres must not be a superuser here");
      if (me.n !== files) throw new Failure(`${me.n} of ${files} migrations recorded`);
      console.log(`${me.n} migrations applied by a role without superuser`);

      step("supabase db lint (plpgsql_check): no finding");
      const lint = JSON.parse(
        await supabase([
          "db",
          "lint",
          "--db-url",
          owner,
          "--level",
          "warning",
          "--output-format",
          "json",
        ]),
      ) as { results: unknown[] };
      if (lint.results.length) {
        throw new Failure(`db lint found:\n${JSON.stringify(lint.results, null, 2)}`);
      }
      console.log("no finding");

      step(`supabase db advisors: no error, every finding accepted in ${ACCEPTED_DOC}`);
      const advisors = JSON.parse(
        await supabase([
          "db",
          "advisors",
          "--db-url",
          owner,
          "--type",
          "all",
          "--level",
          "info",
          "--output-format",
          "json",
        ]),
      ) as { results: Finding[] };
      const accepted = await acceptedFindings();
      const isAccepted = (f: Finding) =>
        accepted.some((a) => a.name === f.name && (a.object === "any" || a.object === objectOf(f)));
      const problems = [
        ...advisors.results.filter((f) => f.level === "ERROR" || !isAccepted(f))
          .map((f) => `${f.level} ${f.name} ${objectOf(f)}: ${f.detail}`),
        ...accepted.filter((a) =>
          !advisors.results.some((f) =>
            f.name === a.name && (a.object === "any" || a.object === objectOf(f))
          )
        ).map((a) => `${ACCEPTED_DOC} accepts ${a.name} ${a.object}, which is no longer found`),
      ];
      if (problems.length) throw new Failure(`db advisors:\n${problems.join("\n")}`);
      const byLevel = new Map<string, number>();
      for (const f of advisors.results) byLevel.set(f.level, (byLevel.get(f.level) ?? 0) + 1);
      console.log(
        `${advisors.results.length} findings, all accepted (${
          [...byLevel].map(([level, n]) => `${n} ${level}`).join(", ")
        })`,
      );

      step("retention on pg_cron");
      const { rows: jobs } = await db.query(
        "select jobname, schedule, command, username from cron.job where jobname = $1",
        [RETENTION_JOB.name],
      );
      const expected = [{
        jobname: RETENTION_JOB.name,
        schedule: RETENTION_JOB.schedule,
        command: RETENTION_JOB.command,
        username: "postgres",
      }];
      if (JSON.stringify(jobs) !== JSON.stringify(expected)) {
        throw new Failure(
          `cron.job holds ${JSON.stringify(jobs)}, not ${JSON.stringify(expected)}`,
        );
      }
      console.log(
        `cron.job: ${RETENTION_JOB.name} ${RETENTION_JOB.schedule} ${RETENTION_JOB.command}`,
      );
      // an old run in pg_cron's history, for the cron_run_history class to purge
      await db.query(
        `insert into cron.job_run_details (jobid, runid, database, username, command, status,
           return_message, start_time, end_time)
         values (0, 999999999, 'postgres', 'postgres', 'select 1', 'succeeded', 'old',
           now() - interval '30 days', now() - interval '30 days')`,
      );
      const since =
        (await db.query("select coalesce(max(id), 0) as id from privacy.retention_runs"))
          .rows[0].id;
      // the same procedure as the registered job, run by pg_cron now rather than in 10 minutes
      const { rows: [{ jobid }] } = await db.query(
        "select cron.schedule('glooft-retention-check', '* * * * *', $1) as jobid",
        ["call private.run_retention('pg_cron', 5000, interval '1 minute', true)"],
      );
      try {
        const run = await waitFor("pg_cron to run the check job", 90_000, async () => {
          const { rows } = await db.query(
            "select status, return_message from cron.job_run_details " +
              "where jobid = $1 and status in ('succeeded', 'failed')",
            [jobid],
          );
          return rows[0] ?? null;
        });
        if (run.status !== "succeeded") {
          throw new Failure(`pg_cron's run failed: ${run.return_message}`);
        }
      } finally {
        await db.query("select cron.unschedule('glooft-retention-check')");
      }
      const { rows: runs } = await db.query(
        `select data_class, source, row_count::int, error from privacy.retention_runs
          where id > $1 order by data_class`,
        [since],
      );
      const { rows: classes } = await db.query(
        "select data_class from privacy.retention_classes where purge_function is not null order by 1",
      );
      const ran = runs.filter((r) => r.source === "pg_cron" && r.error === null)
        .map((r) => r.data_class);
      if (JSON.stringify(ran) !== JSON.stringify(classes.map((k) => k.data_class))) {
        throw new Failure(`pg_cron's runs: ${JSON.stringify(runs)}`);
      }
      const history = runs.find((r) => r.data_class === "cron_run_history");
      const { rows: old } = await db.query(
        "select 1 from cron.job_run_details where runid = 999999999",
      );
      if (!history || history.row_count < 1 || old.length) {
        throw new Failure(`pg_cron's old run history was not purged: ${JSON.stringify(history)}`);
      }
      console.log(
        `pg_cron ran the procedure: a run of each of ${ran.length} classes, no error; ` +
          `${history.row_count} old cron.job_run_details row(s) purged`,
      );
      // as PostgREST calls it for the sweeper: the authenticator, switched to service_role
      const api = await connect("authenticator", passwords.authenticator);
      try {
        await api.query("set role service_role");
        const { rows: [{ pass }] } = await api.query(
          "select public.run_retention(100, 3000, true) as pass",
        );
        if (!Array.isArray(pass) || pass.some((b: { error: string | null }) => b.error)) {
          throw new Failure(`public.run_retention as service_role: ${JSON.stringify(pass)}`);
        }
      } finally {
        await api.end();
      }
      console.log("the sweeper's entry (public.run_retention) runs as service_role");
    } finally {
      await db.end();
    }
    if (values.keep) {
      console.log(`\nkept running: ${owner}\nstop: ${join(PG_BIN, "pg_ctl")} -D ${data} stop`);
      started = false;
      return;
    }
  } finally {
    if (!values.keep) await stop();
  }
}

try {
  await main();
  console.log("\nSupabase compatibility: ok");
  Deno.exit(0);
} catch (error) {
  console.error(`\nSupabase compatibility: ${(error as Error).message}`);
  if (!(error instanceof Failure)) console.error((error as Error).stack);
  Deno.exit(1);
}
