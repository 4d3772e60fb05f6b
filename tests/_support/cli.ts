import { testStack } from "./stack.ts";

/** Runs a project command (as `deno task` would) against the test stack; returns its output. */
export async function runTool(script: string, args: string[], env: Record<string, string> = {}) {
  const s = testStack();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: {
      SUPABASE_URL: s.supabaseUrl,
      SUPABASE_SERVICE_ROLE_KEY: s.secrets.service_role_key,
      API_KEY_PEPPER: s.secrets.api_key_pepper,
      MASTER_KEYS: s.secrets.master_keys,
      ...env,
    },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
