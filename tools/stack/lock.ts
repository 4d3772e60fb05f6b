/** True when a process with this pid exists (signal 0 checks without touching it). */
export function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the single-instance lock for a stack directory, or explains who holds it.
 * A lock left by a crashed run (its pid gone) is taken over.
 */
export function acquireLock(path: string): { release(): void } | { heldBy: number } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.writeTextFileSync(path, String(Deno.pid), { createNew: true });
      return {
        release: () => {
          try {
            if (Deno.readTextFileSync(path).trim() === String(Deno.pid)) Deno.removeSync(path);
          } catch { /* already gone */ }
        },
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const holder = Number(Deno.readTextFileSync(path).trim());
      if (holder && isAlive(holder)) return { heldBy: holder };
      Deno.removeSync(path);
    }
  }
  throw new Error(`Could not take the lock ${path}`);
}
