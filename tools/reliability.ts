import process from "node:process";
import { parseArgs } from "node:util";
import { join, relative } from "node:path";
import { freePorts, ROOT, startStack } from "./stack/mod.ts";

const HELP = `deno task reliability [options] [-- <deno test arguments>]

Runs the reliability suite (tests/reliability/: hostile input, faults, load, security) on a
throwaway local stack, as \`deno task test\` does, then writes a report of what it tried and what
held: inputs tried, faults survived, load held (acknowledgement p50/p99/max, queue lag, time to
drain), events lost and duplicated, with the command, date, commit and machine.

Profiles:
  (default)    full: the ingest goal (2,000 webhooks/s) for 60 s and a 10x burst for 60 s, more
               inputs per property and larger fault runs (meant to take under 30 minutes on
               2 vCPUs; the report says how long it took). Writes docs/reliability.md
  --quick      the scale \`deno task test\` runs the same tests at (a few minutes; for CI).
               Writes .dev/reliability-quick.md, so a quick run never replaces the full report
  --soak       adds the soak (tests/reliability/soak.ts): 30 minutes of mixed traffic, memory and
               connections sampled; --soak-minutes N changes its length

Options:
  --seed N          seed of the generated inputs (default: a new one, printed and reported)
  --runs N          inputs per hostile-input property (default: 1000, quick 100)
  --out PATH        write the report there instead
  --keep            keep the stack's data directory and the raw figures afterwards
  -h, --help        show this help

Knobs the tests read (set by the options above; may be set directly):
  RELIABILITY_PROFILE        full | quick
  RELIABILITY_SEED, RELIABILITY_RUNS
  RELIABILITY_LOAD_RATE      steady webhooks/s (full 2000, quick 100); the burst is 10x
  RELIABILITY_LOAD_SECONDS   steady seconds (full 60, quick 10)
  RELIABILITY_BURST_SECONDS  burst seconds (full 60, quick 5)
  RELIABILITY_RETRY_SECONDS  how long Meta's retries after the load may take (full 900, quick 120)
  RELIABILITY_SOAK_SECONDS   soak length (with --soak)
  RELIABILITY_REPORT         the JSON-lines file tests append their figures to

Examples:
  deno task reliability
  deno task reliability --quick
  deno task reliability --soak
  deno task reliability -- --filter "PostgREST"`;

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      quick: { type: "boolean", default: false },
      soak: { type: "boolean", default: false },
      "soak-minutes": { type: "string", default: "30" },
      seed: { type: "string" },
      runs: { type: "string" },
      out: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  console.error(`reliability: ${(error as Error).message}\n\n${HELP}`);
  Deno.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const positiveInt = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`reliability: --${name} must be a whole number, got ${JSON.stringify(raw)}`);
    Deno.exit(2);
  }
  return n;
};
const profile = values.quick ? "quick" : "full";
const seed = positiveInt(
  "seed",
  values.seed ?? Deno.env.get("RELIABILITY_SEED"),
  crypto.getRandomValues(new Uint32Array(1))[0],
);
const runs = positiveInt(
  "runs",
  values.runs ?? Deno.env.get("RELIABILITY_RUNS"),
  values.quick ? 100 : 1000,
);
const soakSeconds = positiveInt("soak-minutes", values["soak-minutes"], 30) * 60;
const out = values.out ??
  join(ROOT, values.quick ? ".dev/reliability-quick.md" : "docs/reliability.md");

// as tools/test.ts: Ctrl-C must first end the test run, then stop the stack in order
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

const stamp = `${Date.now()}-${Deno.pid}`;
const dir = join(ROOT, ".dev", `reliability-${stamp}`);
const figuresFile = join(dir, "figures.jsonl");
const junitFile = join(dir, "results.xml");
const log = (line: string) => console.log(`[reliability] ${line}`);
const startedAt = new Date();
const started = performance.now();
const loadBefore = loadAverage();
log(
  `profile ${profile}, seed ${seed}, ${runs} inputs per property${
    values.soak ? `, soak ${soakSeconds / 60} min` : ""
  }`,
);
const stack = await startStack({ dir, ports: await freePorts(), seed: false, log });
log(`stack ready in ${Math.round(performance.now() - started)} ms; running tests/reliability/`);
await Deno.writeTextFile(figuresFile, "");

let code = 1;
try {
  // `-- --filter NAME` filters the suite; `-- FILE` runs files of one's choosing instead
  const named = positionals.some((p) => !p.startsWith("-") && exists(join(ROOT, p)));
  const targets = named ? [...positionals] : [...positionals, "tests/reliability/"];
  if (values.soak) targets.push("tests/reliability/soak.ts");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", `--junit-path=${junitFile}`, ...targets],
    cwd: ROOT,
    env: {
      GLOOFT_TEST_STACK: JSON.stringify({
        supabaseUrl: stack.supabaseUrl,
        adminDbUrl: stack.adminDbUrl,
        appEnv: stack.appEnv,
        secrets: stack.secrets,
      }),
      RELIABILITY_REPORT: figuresFile,
      RELIABILITY_PROFILE: profile,
      RELIABILITY_SEED: String(seed),
      RELIABILITY_RUNS: String(runs),
      ...(values.soak ? { RELIABILITY_SOAK_SECONDS: String(soakSeconds) } : {}),
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
}

const report = renderReport({
  command: ["deno task reliability", ...Deno.args].join(" "),
  profile,
  seed,
  runs,
  startedAt,
  seconds: (performance.now() - started) / 1000,
  loadBefore,
  loadAfter: loadAverage(),
  commit: await commitOf(),
  machine: machine(),
  lines: readFigures(figuresFile),
  tests: readJunit(junitFile),
  exitCode: code,
});
await Deno.mkdir(join(out, ".."), { recursive: true });
await Deno.writeTextFile(out, report);
log(`report written to ${relative(ROOT, out)}`);
if (values.keep) log(`stack data and raw figures kept in ${relative(ROOT, dir)}`);
else await Deno.remove(dir, { recursive: true }).catch(() => {});
Deno.exit(code);

interface FigureLine {
  section: string;
  name: string;
  figures: Record<string, number | string | boolean>;
}

interface TestResult {
  file: string;
  name: string;
  seconds: number;
  passed: boolean;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readFigures(path: string): FigureLine[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as FigureLine];
    } catch {
      return [];
    }
  });
}

/** Each test case of Deno's JUnit report: file, name, time and whether it failed. */
function readJunit(path: string): TestResult[] {
  let xml = "";
  try {
    xml = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  const unescape = (s: string) =>
    s.replaceAll("&quot;", '"').replaceAll("&apos;", "'").replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  const results: TestResult[] = [];
  const suites = xml.split(/<testsuite\s/).slice(1);
  for (const suite of suites) {
    const file = unescape(/name="([^"]*)"/.exec(suite)?.[1] ?? "");
    const cases = suite.matchAll(/<testcase\s([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g);
    for (const c of cases) {
      const name = unescape(/name="([^"]*)"/.exec(c[1])?.[1] ?? "");
      const seconds = Number(/time="([^"]*)"/.exec(c[1])?.[1] ?? 0);
      results.push({ file, name, seconds, passed: !/<failure|<error/.test(c[3] ?? "") });
    }
  }
  return results;
}

async function commitOf(): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
  };
  const hash = await git("rev-parse", "--short", "HEAD");
  if (!hash) return "unknown (not a git checkout)";
  const dirty = (await git("status", "--porcelain", "--untracked-files=no"))
    .split("\n").filter((l) => l.trim() && !l.endsWith("docs/reliability.md"));
  return dirty.length ? `\`${hash}\` plus uncommitted changes` : `\`${hash}\``;
}

function machine(): string {
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return "";
    }
  };
  const model = /model name\s*:\s*(.+)/.exec(read("/proc/cpuinfo"))?.[1]?.trim() ?? "unknown CPU";
  const memKb = Number(/MemTotal:\s*(\d+)/.exec(read("/proc/meminfo"))?.[1] ?? 0);
  return `${navigator.hardwareConcurrency} CPUs (${model}), ${
    Math.round(memKb / 1024 / 1024)
  } GiB RAM, ${Deno.build.os} ${Deno.osRelease()}; Deno ${Deno.version.deno}`;
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

function number(x: number): string {
  return x.toLocaleString("en-US");
}

function sum(lines: FigureLine[], key: string): number {
  return lines.reduce(
    (n, l) => n + (typeof l.figures[key] === "number" ? l.figures[key] as number : 0),
    0,
  );
}

function cell(value: number | string | boolean): string {
  if (typeof value === "number") return number(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return value.replaceAll("|", "\\|");
}

function renderReport(r: {
  command: string;
  profile: string;
  seed: number;
  runs: number;
  startedAt: Date;
  seconds: number;
  loadBefore: string;
  loadAfter: string;
  commit: string;
  machine: string;
  lines: FigureLine[];
  tests: TestResult[];
  exitCode: number;
}): string {
  const section = (name: string) => r.lines.filter((l) => l.section === name);
  const failed = r.tests.filter((t) => !t.passed);
  const faultTests = r.tests.filter((t) => /faults_test|poison_test/.test(t.file));
  // the figure's name as tests/_support/fuzz.ts records it, over both sections that try inputs
  const inputs = sum([...section("hostile input"), ...section("security")], "inputs tried");
  const lost = sum(r.lines, "lost");
  const duplicated = sum(r.lines, "duplicated");
  const minutes = Math.floor(r.seconds / 60);
  const load = section("load").map((l) =>
    `${l.name}: acknowledgement p50 ${cell(l.figures.ack_p50_ms ?? "?")} ms, p99 ${
      cell(l.figures.ack_p99_ms ?? "?")
    } ms, max ${cell(l.figures.ack_max_ms ?? "?")} ms, ${
      cell(l.figures.share_over_1s_pct ?? "?")
    } % over 1 s (Meta's guidance ${
      l.figures.meets_meta_guidance ? "met" : "not met"
    }); queue lag p99 ${cell(l.figures.queue_lag_p99_ms ?? "?")} ms; drained ${
      cell(l.figures.drained_after_load_s ?? "?")
    } s after the load`
  );
  const out: string[] = [
    "# Reliability",
    "",
    "Written by `deno task reliability` (`tools/reliability.ts`) from the figures the tests in",
    "`tests/reliability/` record; run it again rather than editing this file. Figures taken on a",
    "shared or busy machine (see the load average) say little about the code.",
    "",
    "|  |  |",
    "| --- | --- |",
    `| command | \`${r.command}\` |`,
    `| profile | ${r.profile}, seed ${r.seed}, ${number(r.runs)} inputs per property |`,
    `| date | ${r.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, ${minutes} min ${
      Math.round(r.seconds - minutes * 60)
    } s |`,
    `| commit | ${r.commit} |`,
    `| machine | ${r.machine} |`,
    `| load average (1, 5, 15 min) | before ${r.loadBefore}, after ${r.loadAfter} |`,
    `| result | ${r.exitCode === 0 ? "**passed**" : "**failed**"}: ${
      number(r.tests.length - failed.length)
    } of ${number(r.tests.length)} tests passed |`,
    "",
    "## Summary",
    "",
    "|  |  |",
    "| --- | --- |",
    `| inputs tried | ${number(inputs)} |`,
    `| faults survived | ${number(faultTests.filter((t) => t.passed).length)} of ${
      number(faultTests.length)
    } |`,
    `| load held | ${load.length ? load.join("<br>") : "not run"} |`,
    `| events lost | ${number(lost)} |`,
    `| events duplicated | ${number(duplicated)} |`,
    "",
  ];
  out.push(
    "What the figures mean: **ack** is the time from when a request was due (requests go out on a",
    "schedule, answered or not, as Meta's do) to its answer; **over 1 s** counts requests not",
    "acknowledged within a second, those **not sent in time** included (due longer than Meta's",
    "timeout, 10 s, before the generator could start them: Meta retries them); **queue lag** runs",
    "from a delivery's recording to its processing; **drained** from the end of the load until",
    "every delivery is acknowledged (after Meta's retries) and processed. **Lost**: acknowledged or",
    "accepted but never stored, or never received by the Graph API emulator; **duplicated**: stored",
    "or sent more than once.",
    "",
  );
  if (failed.length) {
    out.push("## Failed tests", "");
    for (const t of failed) out.push(`- ${t.file}: ${t.name}`);
    out.push("");
  }
  for (const name of ["hostile input", "faults", "load", "soak", "security"]) {
    const lines = section(name);
    if (!lines.length) continue;
    out.push(
      `## ${name[0].toUpperCase()}${name.slice(1)}`,
      "",
      "| what | figures |",
      "| --- | --- |",
    );
    for (const l of lines) {
      const figures = Object.entries(l.figures).map(([k, v]) =>
        `${k.replaceAll("_", " ")} ${cell(v)}`
      );
      out.push(`| ${cell(l.name)} | ${figures.join("; ")} |`);
    }
    out.push("");
  }
  const others = r.lines.filter((l) =>
    !["hostile input", "faults", "load", "soak", "security"].includes(l.section)
  );
  if (others.length) {
    out.push("## Other", "", "| section | what | figures |", "| --- | --- | --- |");
    for (const l of others) {
      out.push(
        `| ${cell(l.section)} | ${cell(l.name)} | ${
          Object.entries(l.figures).map(([k, v]) => `${k} ${cell(v)}`).join("; ")
        } |`,
      );
    }
    out.push("");
  }
  out.push("## Tests", "", "| file | test | s | result |", "| --- | --- | ---: | --- |");
  for (const t of r.tests) {
    out.push(
      `| ${cell(t.file.replace(/^\.\//, ""))} | ${cell(t.name)} | ${t.seconds.toFixed(1)} | ${
        t.passed ? "passed" : "**failed**"
      } |`,
    );
  }
  out.push("");
  return out.join("\n");
}
