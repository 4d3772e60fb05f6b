/** The p-th percentile (nearest rank) of `values`; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const median = (values: number[]) => percentile(values, 50);

/** The 1-minute load average, to show next to figures taken on a shared machine. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

/** CPU milliseconds (user + system) that process `pid` has used so far (Linux /proc). */
export function pidCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, USER_HZ 100
}

/** CPU seconds each live process has used so far, with its command line (Linux /proc; else empty). */
export function processCpu(): Map<number, { cmd: string; seconds: number }> {
  const out = new Map<number, { cmd: string; seconds: number }>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const ms = pidCpuMs(Number(e.name));
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      out.set(Number(e.name), { cmd, seconds: ms / 1000 });
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/**
 * CPU time used between two processCpu() snapshots by each group of processes (the first group
 * whose test accepts a process's pid and command line gets it), as microseconds per `units`.
 * Processes that ended between the snapshots are not counted.
 */
export function cpuPerUnit(
  before: ReturnType<typeof processCpu>,
  after: ReturnType<typeof processCpu>,
  groups: Array<[string, (pid: number, cmd: string) => boolean]>,
  units: number,
): string {
  const used = new Map<string, number>(groups.map(([name]) => [name, 0]));
  for (const [pid, now] of after) {
    const group = groups.find(([, test]) => test(pid, now.cmd));
    if (!group) continue;
    const seconds = now.seconds - (before.get(pid)?.seconds ?? 0);
    used.set(group[0], used.get(group[0])! + seconds);
  }
  const total = [...used.values()].reduce((a, b) => a + b, 0);
  if (!total || !units) return "CPU per unit: not measured (needs Linux /proc)";
  const us = (s: number) => Math.round((s / units) * 1e6);
  return [...used].map(([name, s]) => `${name} ${us(s)} µs`).join(", ") +
    `; all ${us(total)} µs`;
}

/**
 * CPU seconds (user + system) used so far by `pid` and every process below it (Linux /proc; 0
 * elsewhere): an app with its helpers, e.g. wrangler dev with its workerd.
 */
export function treeCpuSeconds(pid: number): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(e.name), Number(fields[1]));
      cpu.set(Number(e.name), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the process ended meanwhile
    }
  }
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [child, parent] of parents) {
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  let total = 0;
  for (const p of tree) total += cpu.get(p) ?? 0;
  return total;
}
