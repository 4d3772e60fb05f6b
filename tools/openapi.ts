import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { composeApp } from "../src/compose.ts";
import { parseEnv } from "../src/config/env.ts";
import { generateMasterKey } from "../src/core/crypto/envelope.ts";
import { ROOT } from "./stack/mod.ts";

const DEFAULT_BASE_URL = "http://127.0.0.1:8787";

const HELP = `deno task openapi <command> [options]

The OpenAPI document the app serves at /openapi.json.

Commands:
  print        write the document to stdout (or --out FILE)
  lint         lint it with Redocly's recommended rules (redocly.yaml); fails on any warning

Options:
  --base-url URL   the server the document names (PUBLIC_BASE_URL; default ${DEFAULT_BASE_URL})
  --out FILE       print: write here instead of stdout
  -h, --help       show this help`;

const REDOCLY = join(ROOT, "node_modules", "@redocly", "cli", "bin", "cli.js");

// deno-lint-ignore no-explicit-any
export type OpenApiDocument = Record<string, any>;

const random = (bytes: number) =>
  crypto.getRandomValues(new Uint8Array(bytes)).toBase64({ omitPadding: true });

/**
 * The document exactly as the app serves it. The app is composed with throwaway settings: the
 * document depends only on the routes and PUBLIC_BASE_URL, and nothing here talks to a database.
 */
export async function servedDocument(baseUrl = DEFAULT_BASE_URL): Promise<OpenApiDocument> {
  const env = parseEnv({
    ENVIRONMENT: "development",
    LOG_LEVEL: "error",
    PUBLIC_BASE_URL: baseUrl,
    // port 9 (discard): nothing is ever sent there
    SUPABASE_URL: "http://127.0.0.1:9",
    SUPABASE_ANON_KEY: random(24),
    SUPABASE_SERVICE_ROLE_KEY: random(24),
    SUPABASE_JWT_SECRET: random(48),
    MASTER_KEYS: generateMasterKey("v1"),
    API_KEY_PEPPER: random(32),
    META_APP_SECRET: random(24),
    META_VERIFY_TOKEN: random(16),
  });
  const { app } = await composeApp(env, {
    doorbell: () => ({ ring: () => Promise.resolve() }),
    shareWrites: false,
    // reading the document is not an API call worth a row (and there is no database)
    requestLog: { record: () => Promise.resolve(), flush: () => Promise.resolve() },
  });
  const res = await app.request("/openapi.json", {}, { remoteAddr: "127.0.0.1" });
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
  return await res.json();
}

/**
 * Where the linted copy is written: Redocly's accepted exceptions (.redocly.lint-ignore.yaml) name
 * the file they apply to, relative to the repository.
 */
export const LINTED_COPY = ".dev/openapi/openapi.json";

interface LintProblem {
  ruleId: string;
  severity: "error" | "warn";
  message: string;
  location: Array<{ pointer: string }>;
}

/**
 * Lints the document with Redocly CLI (pinned in package.json) under redocly.yaml (recommended
 * rules) and its accepted exceptions. `ok` only with no error and no warning: Redocly itself
 * exits 0 on warnings.
 */
export async function lintDocument(
  doc: OpenApiDocument,
): Promise<{ ok: boolean; report: string; totals: { errors: number; warnings: number } }> {
  const file = join(ROOT, LINTED_COPY);
  await Deno.mkdir(dirname(file), { recursive: true });
  await Deno.writeTextFile(file, JSON.stringify(doc, null, 2));
  const out = await new Deno.Command("node", {
    args: [REDOCLY, "lint", LINTED_COPY, "--config", "redocly.yaml", "--format", "json"],
    cwd: ROOT,
    env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  let result: { totals: { errors: number; warnings: number }; problems: LintProblem[] };
  try {
    result = JSON.parse(stdout);
  } catch {
    throw new Error(
      `Redocly did not report (exit ${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const lines = result.problems.map((p) =>
    `${p.severity === "error" ? "error" : "warning"} ${p.ruleId} at ${
      p.location[0]?.pointer ?? "#"
    }: ${p.message}`
  );
  const { errors, warnings } = result.totals;
  lines.push(`Redocly (recommended rules, redocly.yaml): ${errors} errors, ${warnings} warnings`);
  return { ok: errors === 0 && warnings === 0, report: lines.join("\n"), totals: result.totals };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "base-url": { type: "string", default: DEFAULT_BASE_URL },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command] = positionals;
  if (values.help || !command) {
    console.log(HELP);
    Deno.exit(values.help ? 0 : 64);
  }
  const doc = await servedDocument(values["base-url"]);
  if (command === "print") {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (values.out) await Deno.writeTextFile(values.out, text);
    else console.log(text);
  } else if (command === "lint") {
    const { ok, report } = await lintDocument(doc);
    console.log(report);
    if (!ok) {
      console.error("The OpenAPI document has lint errors or warnings (see above)");
      Deno.exit(1);
    }
  } else {
    console.error(`Unknown command: ${command}\n\n${HELP}`);
    Deno.exit(64);
  }
  Deno.exit(0);
}
