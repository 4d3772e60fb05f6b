import { join } from "node:path";
import { SCHEMA_COMMAND, SCHEMA_DIR } from "./dump.ts";

/** Writes the generated files that changed and removes `.sql` files no schema produces now. */
export async function writeSchemaFiles(
  dir: string,
  files: Map<string, string>,
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    if (await readOrNull(path) === text) continue;
    await Deno.writeTextFile(path, text);
    changed.push(`${SCHEMA_DIR}/${name}`);
  }
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && entry.name.endsWith(".sql") && !files.has(entry.name)) {
      await Deno.remove(join(dir, entry.name));
      changed.push(`${SCHEMA_DIR}/${entry.name} (removed)`);
    }
  }
  return changed;
}

/**
 * What differs between the files in `dir` and `files`, one message per file, each naming the
 * command that fixes it and the first lines that differ. Empty when everything matches.
 */
export async function compareSchemaFiles(
  dir: string,
  files: Map<string, string>,
): Promise<string[]> {
  const problems: string[] = [];
  const fix = `run \`${SCHEMA_COMMAND}\` and commit ${SCHEMA_DIR}/ with the migration`;
  for (const [name, text] of files) {
    const current = await readOrNull(join(dir, name));
    if (current === null) problems.push(`${SCHEMA_DIR}/${name} is missing: ${fix}`);
    else if (current !== text) {
      problems.push(
        `${SCHEMA_DIR}/${name} is stale (the migrations give something else): ${fix}\n` +
          firstDifference(current, text),
      );
    }
  }
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".sql"))
      .map((e) => e.name);
  } catch { /* no directory: every file is reported missing above */ }
  for (const name of names) {
    if (!files.has(name)) problems.push(`${SCHEMA_DIR}/${name} belongs to no schema: ${fix}`);
  }
  return problems;
}

function firstDifference(committed: string, generated: string): string {
  const a = committed.split("\n");
  const b = generated.split("\n");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const show = (lines: string[]) =>
    lines.slice(i, i + 6).map((l) => `    ${l}`).join("\n") || "    (end of file)";
  return `  first difference at line ${i + 1}\n  committed:\n${show(a)}\n  generated:\n${show(b)}`;
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
