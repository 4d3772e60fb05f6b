/** What /proc says about a process: its parent, its process group and when it started. */
function stat(
  pid: number,
): { ppid: number; pgrp: number; started: string; zombie: boolean } | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // the command name is in parentheses and may itself contain spaces or parentheses
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields from the state on: state ppid pgrp session tty_nr tpgid flags … starttime (22nd)
    return {
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      started: fields[19],
      zombie: fields[0] === "Z",
    };
  } catch {
    return null;
  }
}

/**
 * Calls `onGone` once any process that launched this one is gone: the ancestors in this process's
 * process group, which is what a shell runs as one job (`npx deno task dev`: npx → sh → deno task →
 * us). A supervisor or `kill $!` signals only the outermost of them, and neither npx's sh nor
 * `deno task` passes a SIGTERM on, so without this the stack outlived the command that started it
 * and kept every port. A pid is compared with its start time, so a reused pid does not count as
 * the same process. Linux /proc (the stack's PostgREST binary is Linux-only anyway).
 */
export function watchLaunchers(onGone: () => void, everyMs = 250): { stop(): void } {
  const own = stat(Deno.pid);
  const launchers: Array<{ pid: number; started: string }> = [];
  for (let pid = own?.ppid ?? 0; pid > 1;) {
    const s = stat(pid);
    if (!s || s.pgrp !== own!.pgrp) break;
    launchers.push({ pid, started: s.started });
    pid = s.ppid;
  }
  const timer = setInterval(() => {
    const gone = launchers.some(({ pid, started }) => {
      const s = stat(pid);
      return !s || s.zombie || s.started !== started;
    });
    if (gone) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}
