import { join } from "node:path";
import { type ChildHandle, spawnChild, waitForHttp } from "./postgrest.ts";
import { ROOT } from "./mod.ts";

export type AppRuntime = "deno" | "workerd";

export interface AppProcess extends ChildHandle {
  runtime: AppRuntime;
  url: string;
}

const SAFE_VALUE = /^[A-Za-z0-9_.:,/+=@-]*$/;

/**
 * One `KEY=value` line of a dotenv file, as wrangler's `--env-file` reads it. Values the stack
 * generates are base64 and URLs; anything else is single-quoted, where dotenv expands nothing.
 */
function dotenvLine(key: string, value: string): string {
  if (SAFE_VALUE.test(value)) return `${key}=${value}`;
  if (!/['\n\r]/.test(value)) return `${key}='${value}'`;
  throw new Error(`The value of ${key} cannot be written to a dotenv file`);
}

/**
 * Starts the app as its own process on `runtime` with `env` as its whole configuration, and
 * resolves once `/healthz` answers 200. On Deno that is `src/entry/deno.ts`; in workerd it is
 * `wrangler dev` (run under Deno, since wrangler 4 refuses Node 20), whose environment comes from a
 * dotenv file written into `dir` with mode 0600, and whose local state (queues) lives in `dir` too.
 * Stopping sends SIGTERM to the top process; wrangler takes its workerd children down with it.
 */
export async function startAppProcess(options: {
  runtime: AppRuntime;
  env: Record<string, string>;
  port: number;
  dir: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /** gives up waiting (and stops the process) when aborted, e.g. by Ctrl-C during start-up */
  signal?: AbortSignal;
  /** on Deno, a module to run instead of src/entry/deno.ts (a benchmark's wrapper of it) */
  entry?: string;
}): Promise<AppProcess> {
  const { runtime, env, port, dir } = options;
  const url = `http://127.0.0.1:${port}`;
  const inherited = Deno.env.toObject();
  // kept so that a failed start says why instead of only "did not become ready"
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 15) recent.shift();
    options.log?.(line);
  };
  let child: ChildHandle;
  if (runtime === "workerd") {
    await Deno.mkdir(dir, { recursive: true });
    const envFile = join(dir, "workers.env");
    await Deno.writeTextFile(
      envFile,
      Object.entries(env).map(([k, v]) => dotenvLine(k, v)).join("\n") + "\n",
      { mode: 0o600 },
    );
    child = spawnChild("wrangler", Deno.execPath(), [
      "run",
      "-A",
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--env-file",
      envFile,
      "--test-scheduled",
      "--show-interactive-dev-session=false",
      "--persist-to",
      join(dir, "wrangler"),
    ], {
      env: {
        ...inherited,
        WRANGLER_SEND_METRICS: "false",
        CI: "1",
        // miniflare fetches a sample `request.cf` from workers.cloudflare.com at each start and,
        // offline, printed a DNS stack trace twice; its placeholder serves local requests as well
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
      },
      cwd: ROOT,
      log,
    });
  } else {
    const entry = options.entry ?? join(ROOT, "src/entry/deno.ts");
    child = spawnChild("deno", Deno.execPath(), ["run", "-A", entry], {
      env: { ...inherited, ...env, PORT: String(port) },
      cwd: ROOT,
      log,
    });
  }
  try {
    await waitForHttp(`${url}/healthz`, `The app (${runtime})`, {
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      signal: options.signal,
      gone: () => isGone(child.pid),
    });
  } catch (error) {
    await child.stop();
    const output = recent.length ? `\n  last output:\n    ${recent.join("\n    ")}` : "";
    throw new Error(`${(error as Error).message}${output}`);
  }
  return { ...child, runtime, url };
}

/** True once `pid` is gone or a zombie (exited, not yet reaped). */
function isGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
