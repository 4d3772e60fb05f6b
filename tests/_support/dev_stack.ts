import { join } from "node:path";
import { ROOT } from "../../tools/stack/mod.ts";

/** `deno task dev` as tests drive it: its own directory, free ports, output kept for failures. */

export const STACK_FIELDS = [
  "app_url",
  "emulator_url",
  "client_id",
  "api_key",
  "phone_number_id",
  "meta_app_secret",
  "meta_verify_token",
  "shopify_api_secret",
  "shop_domain",
  "shopify_emulator_url",
] as const;

export type StackInfo = Record<(typeof STACK_FIELDS)[number], string> & {
  supabase_url: string;
  pids: number[];
  runtime: string;
};

export interface Launcher {
  pid: number;
  output(): string;
  status: Promise<Deno.CommandStatus>;
}

/**
 * Starts a stack in `dir`, as `deno run tools/dev.ts --dir DIR --ports auto` or, with `npx`, as
 * README.md's `npx --yes deno@<version> task dev --dir DIR`. `ports: "default"` leaves --ports out.
 */
export function launch(
  dir: string,
  options: { workers?: boolean; npx?: boolean; ports?: "auto" | "default" } = {},
): Launcher {
  const env = Deno.env.toObject();
  delete env.PORT;
  const stackArgs = ["--dir", dir, ...(options.ports === "default" ? [] : ["--ports", "auto"])];
  if (options.workers) stackArgs.push("--workers");
  const [command, args] = options.npx
    ? ["npx", ["--yes", `deno@${Deno.version.deno}`, "task", "dev", ...stackArgs]]
    : [Deno.execPath(), ["run", "-A", join(ROOT, "tools/dev.ts"), ...stackArgs]];
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    pid: child.pid,
    output: () => text,
    status: pumps.then(() => child.status),
  };
}

/** Waits for stack.json, the launcher's "ready" signal; fails with its output if it exits first. */
export async function ready(launcher: Launcher, dir: string): Promise<StackInfo> {
  const deadline = Date.now() + 120_000;
  let exited = false;
  launcher.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      return JSON.parse(await Deno.readTextFile(join(dir, "stack.json")));
    } catch { /* not written yet, or half written */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `deno task dev did not become ready (${
      exited ? "it exited" : "timed out"
    }):\n${launcher.output()}`,
  );
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function api(info: StackInfo, path: string, init: RequestInit = {}) {
  const res = await fetch(`${info.app_url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${info.api_key}`,
      "content-type": "application/json",
      ...init.headers,
    },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: await res.json() };
}

/** A fresh stack directory under .dev/ (removed by the caller). */
export async function stackDir(prefix: string): Promise<string> {
  await Deno.mkdir(join(ROOT, ".dev"), { recursive: true });
  const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix });
  // PostgreSQL runs as its own system user when we are root: it must be able to enter the dir
  await Deno.chmod(dir, 0o755);
  return dir;
}

/** SIGTERM, then the launcher's exit status (SIGKILL to what is left if it hangs). */
export async function stop(launcher: Launcher): Promise<Deno.CommandStatus> {
  try {
    Deno.kill(launcher.pid, "SIGTERM");
  } catch { /* already gone */ }
  return await within(launcher.status, 30_000, "stopping the stack");
}
