import { testStack } from "./stack.ts";

const OPERATOR_KEYS = [
  "SUPABASE_URL",
  "SUPABASE_SERVICE_ROLE_KEY",
  "API_KEY_PEPPER",
  "MASTER_KEYS",
  "MASTER_KEY_ACTIVE",
];

/**
 * Runs a project command (as `deno task` would) and returns its output. By default it is
 * configured through the environment for the test stack; with `operatorEnv: false` it gets none of
 * the operator keys at all (whatever this process has), as on a developer's machine.
 */
export async function runTool(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  options: { operatorEnv?: boolean } = {},
) {
  const s = testStack();
  const inherited = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !OPERATOR_KEYS.includes(k)),
  );
  const operator: Record<string, string> = options.operatorEnv === false ? {} : {
    SUPABASE_URL: s.supabaseUrl,
    SUPABASE_SERVICE_ROLE_KEY: s.secrets.service_role_key,
    API_KEY_PEPPER: s.secrets.api_key_pepper,
    MASTER_KEYS: s.secrets.master_keys,
  };
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { ...inherited, ...operator, ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
