import assert from "node:assert/strict";
import pg from "pg";
import { dirname, join } from "node:path";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { sql, testStack } from "../_support/stack.ts";
import { readmeSection, shellCommands } from "../_support/readme.ts";

/**
 * README's Deploy section, run as written on the documented toolchain: `deno` is the Deno the
 * README pins (the one running this test) and npm's Node is the machine's. A command that needs a
 * Cloudflare or Supabase account runs in its offline form (OFFLINE below: its `--help`, with every
 * flag the README passes it listed there, or its `--dry-run`); every other command runs for real
 * against the test stack, with the variables the README tells the reader to set.
 */

const OFFLINE: Array<{ command: RegExp; add: string[]; why: string }> = [
  { command: /^deno task supabase link /, add: ["--help"], why: "needs a Supabase account" },
  { command: /^deno task supabase db push$/, add: ["--help"], why: "pushes to the linked project" },
  { command: /^deno task wrangler queues create /, add: ["--help"], why: "needs Cloudflare" },
  { command: /^deno task wrangler secret put /, add: ["--help"], why: "needs Cloudflare" },
  {
    command: /^deno task wrangler deploy$/,
    add: ["--dry-run", "--outdir", "$DEPLOY_OUTDIR"],
    why: "needs Cloudflare",
  },
];

/** Commands that serve until stopped: started, asked for /healthz, stopped with SIGTERM. */
const SERVERS = [/^deno run -A src\/entry\/deno\.ts$/];

const decoder = new TextDecoder();

async function run(command: string, env: Record<string, string>) {
  const out = await new Deno.Command("sh", {
    args: ["-c", command],
    cwd: ROOT,
    env,
    clearEnv: true,
    // an operator answering wrangler's and the Supabase CLI's confirmations
    stdin: "null",
    signal: AbortSignal.timeout(180_000),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function serve(command: string, env: Record<string, string>) {
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${command}`],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${env.PORT}/healthz`);
        healthy = res.status === 200 && (await res.json()).status === "ok";
      } catch { /* not listening yet */ }
      if (!healthy) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(healthy, `${command} answers /healthz`);
  } finally {
    child.kill("SIGTERM");
  }
  const done = await output;
  assert.equal(done.code, 0, decoder.decode(done.stderr));
}

async function untracked(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["status", "--porcelain", "--untracked-files=all"],
    cwd: ROOT,
  }).output();
  return decoder.decode(out.stdout).split("\n").filter((l) => l.startsWith("??"));
}

Deno.test("every command of README's Deploy section runs as written on the documented toolchain (account-bound ones in their --help or --dry-run form)", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const pinned = /npx --yes deno@(\d+\.\d+\.\d+)/.exec(readme)?.[1];
  assert.equal(Deno.version.deno, pinned, "this test runs on the Deno the README pins");
  const commands = shellCommands(readmeSection(readme, "Deploy"));
  assert.ok(commands.length >= 8, `the Deploy section has its commands: ${commands.join(" | ")}`);
  for (const o of OFFLINE) {
    assert.equal(
      commands.filter((c) => o.command.test(c)).length,
      1,
      `one Deploy command matches ${o.command} (${o.why})`,
    );
  }

  const stack = testStack();
  const database = `deploy_docs_${crypto.randomUUID().slice(0, 8)}`;
  const databaseUrl = new URL(stack.adminDbUrl);
  databaseUrl.pathname = `/${database}`;
  // the local PostgreSQL speaks no TLS (a hosted Supabase database does)
  databaseUrl.searchParams.set("sslmode", "disable");
  await sql(`create database ${database}`);
  const outdir = await Deno.makeTempDir({ prefix: "deploy-docs-" });
  const digits = () => String(1e11 + Math.floor(Math.random() * 8e11));
  const env: Record<string, string> = {
    HOME: Deno.env.get("HOME") ?? "/root",
    // `deno` is this Deno; npm, node and git come from the machine
    PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    ...stack.appEnv,
    LOG_LEVEL: "warn",
    WRANGLER_SEND_METRICS: "false",
    SUPABASE_TELEMETRY_DISABLED: "1",
    DEPLOY_OUTDIR: outdir,
    PROJECT_REF: "abcdefghijklmnopqrst",
    DATABASE_URL: databaseUrl.href,
    TOKEN: `EAAG${crypto.randomUUID()}`,
    WABA_ID: digits(),
    PHONE_NUMBER_ID: digits(),
    DISPLAY_PHONE_NUMBER: "+1 555 0100",
  };
  const before = await untracked();
  try {
    for (const command of commands) {
      if (SERVERS.some((s) => s.test(command))) {
        await serve(command, { ...env, PORT: String(await freePort()) });
        continue;
      }
      const offline = OFFLINE.find((o) => o.command.test(command));
      const res = await run(offline ? `${command} ${offline.add.join(" ")}` : command, env);
      const output = `${command}\n${res.stdout}\n${res.stderr}`;
      assert.equal(res.code, 0, output);
      if (offline?.add[0] === "--help") {
        for (const flag of command.match(/--[a-z-]+/g) ?? []) {
          assert.ok(res.stdout.includes(flag), `${command}: its --help lists ${flag}\n${output}`);
        }
      }
      if (/wrangler deploy/.test(command)) {
        assert.match(res.stdout, /--dry-run: exiting now/, output);
        await Deno.stat(join(outdir, "workers.js"));
      }
      if (/supabase db push --db-url/.test(command)) {
        const files = [...Deno.readDirSync(join(ROOT, "supabase", "migrations"))]
          .map((f) => f.name).filter((f) => f.endsWith(".sql"));
        const db = new pg.Client({ connectionString: databaseUrl.href });
        await db.connect();
        try {
          const { rows } = await db.query(
            "select version from supabase_migrations.schema_migrations order by 1",
          );
          assert.deepEqual(
            rows.map((r) => r.version),
            files.map((f) => f.split("_")[0]).sort(),
            `every migration is applied\n${output}`,
          );
        } finally {
          await db.end();
        }
      }
      if (/keys generate v1/.test(command)) {
        assert.match(res.stdout, /^v1:[A-Za-z0-9+/]{43}=\n$/, output);
      }
      if (/client create/.test(command)) {
        const id = /\(([0-9a-f-]{36})\)/.exec(res.stdout)?.[1];
        assert.ok(id, `client create prints the client's id\n${output}`);
        env.CLIENT_ID = id;
      }
      if (/client add-number/.test(command)) {
        const [number] = await sql<{ client_id: string; token: string }>(
          `select p.client_id, w.access_token_ciphertext as token from phone_numbers p
             join whatsapp_business_accounts w on w.id = p.waba_account_id
            where p.phone_number_id = $1`,
          [env.PHONE_NUMBER_ID],
        );
        assert.equal(number?.client_id, env.CLIENT_ID, output);
        assert.ok(!number.token.includes(env.TOKEN), "the token is stored encrypted");
      }
    }
  } finally {
    await Deno.remove(outdir, { recursive: true }).catch(() => {});
    await sql(`drop database if exists ${database} with (force)`);
  }
  assert.deepEqual(await untracked(), before, "the commands leave no untracked file behind");
});
