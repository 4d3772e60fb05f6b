/** What /proc says about one process: its parent, its command name and whether it has exited. */
function readStat(pid: number): { ppid: number; comm: string; zombie: boolean } | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // the command name is in parentheses and may itself contain spaces or parentheses
    const close = stat.lastIndexOf(")");
    const [state, ppid] = stat.slice(close + 2).split(" ");
    return {
      ppid: Number(ppid),
      comm: stat.slice(stat.indexOf("(") + 1, close),
      zombie: state === "Z",
    };
  } catch {
    return null;
  }
}

/** True while `pid` runs; an exited child not yet reaped by its parent (a zombie) counts as gone. */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && !stat.zombie;
}

/** `pid` and every process below it, with command names (Linux /proc). */
export function processTree(pid: number): Array<{ pid: number; comm: string }> {
  const children = new Map<number, Array<{ pid: number; comm: string }>>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (!stat || stat.zombie) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid: Number(entry.name), comm: stat.comm });
    children.set(stat.ppid, list);
  }
  const root = readStat(pid);
  if (!root) return [];
  const tree = [{ pid, comm: root.comm }];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i].pid) ?? []));
  return tree;
}
