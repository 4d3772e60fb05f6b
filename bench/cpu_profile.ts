import { owner, repoPath, type SourceMap } from "./source_map.ts";

/** A V8 CPU profile as the inspector's Profiler.stop returns it (what Chrome DevTools loads). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Samples the CPU of a workerd Worker through workerd's inspector (`--inspector-addr`): start()
 * before the load, stop() after it. The inspector names each Worker by its service name.
 */
export async function profileWorker(inspectorPort: number, service = "main") {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`))
    .json() as Array<{ id: string; webSocketDebuggerUrl: string }>;
  const target = targets.find((t) => t.id === service);
  if (!target) throw new Error(`workerd's inspector has no Worker named ${service}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let seq = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    // workerd answers a call with an empty result by echoing it (no `result` key)
    if (typeof message.id === "number") {
      waiting.get(message.id)?.(message.result);
      waiting.delete(message.id);
    }
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  // 200 µs: fine enough for requests that cost tens of microseconds, cheap enough to keep up
  await call("Profiler.setSamplingInterval", { interval: 200 });
  return {
    start: () => call("Profiler.start"),
    async stop(): Promise<CpuProfile> {
      const { profile } = await call("Profiler.stop") as { profile: CpuProfile };
      return profile;
    },
    close: () => ws.close(),
  };
}

/** Original positions: per generated line, [column, source, original line]. */
function decodePositions(mappings: string): Array<Array<[number, number, number]>> {
  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let source = 0;
  let line = 0;
  return mappings.split(";").map((text) => {
    let column = 0;
    const out: Array<[number, number, number]> = [];
    for (const segment of text ? text.split(",") : []) {
      const fields: number[] = [];
      let value = 0, shift = 0;
      for (const char of segment) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += fields[0];
      if (fields.length >= 4) {
        source += fields[1];
        line += fields[2];
        out.push([column, source, line]);
      }
    }
    return out;
  });
}

/**
 * Where a Worker's CPU went, from a profile of the bundle `bundle` (its source map beside it):
 * the share of samples by package (self time: the code that ran, not its callers) and the
 * costliest functions of this repository and its packages, by self and by inclusive time.
 * Native work (workerd's HTTP, crypto, fetch) shows under its own name; (idle) is time the
 * isolate waited, (program) native time V8 did not attribute, (garbage collector) GC.
 */
export async function summarizeProfile(
  profile: CpuProfile,
  bundle: string,
  options: { top?: number } = {},
): Promise<string> {
  const map: SourceMap = JSON.parse(await Deno.readTextFile(`${bundle}.map`));
  const positions = decodePositions(map.mappings);
  const at = (line: number, column: number) => {
    let found: [number, number, number] | null = null;
    for (const p of positions[line] ?? []) {
      if (p[0] > column) break;
      found = p;
    }
    return found;
  };
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = new Map<number, { pkg: string; fn: string }>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    if (!f.url.endsWith(".js") || f.url.includes("node-internal") || !f.url) {
      const name = f.functionName || "(anonymous)";
      const native = name.startsWith("(") ? name : `${name} (native${f.url ? `: ${f.url}` : ""})`;
      where.set(n.id, { pkg: native, fn: native });
      continue;
    }
    const p = at(f.lineNumber, f.columnNumber);
    if (!p) {
      where.set(n.id, { pkg: "(unmapped)", fn: `(unmapped) ${f.url}` });
      continue;
    }
    const path = repoPath(bundle, map.sources[p[1]]);
    where.set(n.id, {
      pkg: owner(path),
      fn: `${path.replace(/^.*node_modules\//, "")}:${p[2] + 1}`,
    });
  }
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const idle = [...counts].filter(([id]) => where.get(id)?.fn === "(idle)")
    .reduce((a, [, c]) => a + c, 0);
  const busy = total - idle;
  const bySelf = (key: "pkg" | "fn") => {
    const out = new Map<string, number>();
    for (const [id, c] of counts) {
      const w = where.get(id)!;
      if (w.fn === "(idle)") continue;
      out.set(w[key], (out.get(w[key]) ?? 0) + c);
    }
    return [...out].sort((a, b) => b[1] - a[1]);
  };
  const inclusive = new Map<string, number>();
  for (const [id, c] of counts) {
    if (where.get(id)?.fn === "(idle)") continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = where.get(cur)?.fn;
      if (!fn || fn.startsWith("(") || seen.has(fn)) continue;
      seen.add(fn);
      inclusive.set(fn, (inclusive.get(fn) ?? 0) + c);
    }
  }
  const top = options.top ?? 15;
  const pct = (c: number) => `${(100 * c / Math.max(1, busy)).toFixed(1)} %`;
  const table = (title: string, rows: Array<[string, number]>) =>
    [`| ${title} | share of busy time |`, "|---|---:|"]
      .concat(rows.slice(0, top).map(([name, c]) => `| ${name} | ${pct(c)} |`)).join("\n");
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  return [
    `${total} samples over ${seconds.toFixed(1)} s, the isolate busy in ` +
    `${(100 * busy / Math.max(1, total)).toFixed(0)} % of them; shares below are of the busy ones`,
    "",
    table("self time by package", bySelf("pkg")),
    "",
    table("self time by function (source:line)", bySelf("fn")),
    "",
    table(
      "inclusive time by function (source:line)",
      [...inclusive].sort((a, b) => b[1] - a[1]),
    ),
  ].join("\n");
}
