/**
 * Finds secrets in log output: the known values (the stack's secrets, keys and tokens a test made,
 * message bodies it sent) and anything shaped like a credential (API keys, JWTs, webhook signing
 * secrets, bearer headers). `deno task reliability` can run it over everything the suite wrote;
 * tests run it over what they captured.
 */
import { testStack } from "./stack.ts";

const SHAPES: Record<string, RegExp> = {
  "an API key": /glf_(live|test)_[0-9A-Za-z]{6,}/,
  "a JWT": /eyJ[\w-]{8,}\.[\w-]{8,}/,
  "a webhook signing secret": /whsec_[\w+/=-]{8,}/,
  "a bearer credential": /bearer\s+[\w.~+/=-]{12,}/i,
};

/** Every secret of the running stack by name, and the parts of composite ones (master keys). */
export function stackSecrets(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(testStack().secrets)) {
    out[name] = value;
    if (name === "master_keys") {
      for (const part of value.split(",")) {
        out[`master key ${part.split(":")[0]}`] = part.split(":")[1];
      }
    }
  }
  return out;
}

export interface SecretFinding {
  what: string;
  /** the line with the secret itself masked, so the report does not repeat it */
  line: string;
}

/** Each line that holds a known secret (8 characters or more) or a credential's shape. */
export function findSecrets(lines: string[], known: Record<string, string>): SecretFinding[] {
  const values = Object.entries(known).filter(([, v]) => v.length >= 8);
  const found: SecretFinding[] = [];
  for (const line of lines) {
    for (const [what, value] of values) {
      if (line.includes(value)) found.push({ what, line: line.replaceAll(value, `<${what}>`) });
    }
    for (const [what, shape] of Object.entries(SHAPES)) {
      const m = shape.exec(line);
      if (m) found.push({ what, line: line.replace(m[0], `<${what}>`) });
    }
  }
  return found;
}

/**
 * Collects everything written through console while `run` runs (the JSON logger writes there,
 * and so would any stray console call), then restores console.
 */
export async function captureConsole<T>(
  run: () => Promise<T>,
): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const methods = ["log", "error", "warn", "info", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    console[m] = (...args: unknown[]) =>
      lines.push(args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" "));
  }
  try {
    return { value: await run(), lines };
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]));
  }
}
