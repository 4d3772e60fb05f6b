import { join } from "node:path";
import type { LoadResult } from "./load.ts";

/** Whether Debian's `wrk` is on PATH. */
export function hasWrk(): Promise<boolean> {
  return new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then(() => true, () => false);
}

const MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const ms = (text: string) => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`Cannot read the wrk duration ${text}`);
  return Number(m[1]) * MS[m[2]];
};

/**
 * One wrk run (one thread: the app under test gets the other core), read from wrk's own report:
 * requests, non-2xx answers and socket errors, req/s, p50 and p99. `script` is a wrk Lua script;
 * one written by replayScript() also says whether it ran out of requests and repeated some.
 */
export async function runWrk(options: {
  url: string;
  connections: number;
  seconds: number;
  script?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
}): Promise<LoadResult & { wrapped: boolean }> {
  const args = ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, "--latency"];
  if (options.timeoutSeconds) args.push("--timeout", `${options.timeoutSeconds}s`);
  if (options.script) args.push("-s", options.script);
  const out = await new Deno.Command("wrk", {
    args: [...args, options.url],
    env: options.env ?? {},
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
    .exec(text)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0;
  return {
    requests,
    errors: non2xx + socketErrors,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]),
    p50Ms: ms(/ 50%\s+(\S+)/.exec(text)?.[1] ?? ""),
    p99Ms: ms(/ 99%\s+(\S+)/.exec(text)?.[1] ?? ""),
    wrapped: text.includes("REPLAY WRAPPED"),
  };
}

/**
 * A wrk script that POSTs prepared requests, each once, in order: each entry's `values` are the
 * headers named by `headers` (a signature, a delivery id...), `fixed` the headers every request
 * carries. The entries are written to a file in `dir` (one per line: the values, each followed by
 * a blank, then the body) and read by the script at start, so wrk replays them without computing
 * anything. Past the last one it starts again and says so (`REPLAY WRAPPED`): a repeated webhook
 * is a duplicate, which costs less.
 */
export async function replayScript(
  dir: string,
  headers: string[],
  entries: Iterable<{ values: string[]; body: string }>,
  fixed: Record<string, string> = {},
): Promise<{ script: string; count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  const lines: string[] = [];
  for (const e of entries) {
    if (e.values.length !== headers.length || e.values.some((v) => !v || /\s/.test(v))) {
      throw new Error("A replayed request has one value per header, each without blanks");
    }
    if (e.body.includes("\n")) throw new Error("A replayed body has no newline");
    lines.push(`${e.values.join(" ")} ${e.body}`);
    count++;
    bytes += e.body.length;
  }
  const file = join(dir, "replay.txt");
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  const script = join(dir, "replay.lua");
  const base = { "content-type": "application/json", ...fixed };
  await Deno.writeTextFile(
    script,
    `local names = { ${headers.map((h) => JSON.stringify(h)).join(", ")} }
local base = { ${
      Object.entries(base).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(
        ", ",
      )
    } }
local entries, n, wrapped = {}, 0, false
for line in io.lines(${JSON.stringify(file)}) do
  local values, rest = {}, line
  for i = 1, #names do
    local value, tail = rest:match("^(%S+) (.*)$")
    values[i], rest = value, tail
  end
  entries[#entries + 1] = { values = values, body = rest }
end
function request()
  n = n + 1
  if n > #entries then n = 1; wrapped = true end
  local e = entries[n]
  local h = {}
  for k, v in pairs(base) do h[k] = v end
  for i, name in ipairs(names) do h[name] = e.values[i] end
  return wrk.format("POST", nil, h, e.body)
end
function done(summary, latency, requests)
  if wrapped then io.write("REPLAY WRAPPED\\n") end
end
`,
  );
  return { script, count, bytes };
}
