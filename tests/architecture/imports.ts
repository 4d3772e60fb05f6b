import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../../tools/stack/mod.ts";

/** One import (or re-export) of a module: what it names and, for a relative one, the file. */
export interface Import {
  specifier: string;
  /** the file a relative specifier resolves to, relative to the repository root */
  target: string | null;
  typeOnly: boolean;
}

// `from "x"` covers import and export declarations however they are spread over lines;
// `import "x"` a side-effect import; `import("x")` a dynamic one
const FROM = /(?:^|[\s;}])(import|export)\s+(type\s+)?[^;'"]*?\sfrom\s*["']([^"']+)["']/g;
const BARE = /(?:^|[\s;])import\s*["']([^"']+)["']/g;
const DYNAMIC = /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g;

/** The imports of a TypeScript file's text. `file` is relative to the repository root. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) =>
    found.push({
      specifier,
      typeOnly,
      target: specifier.startsWith(".")
        ? relative(ROOT, resolve(join(ROOT, dirname(file)), specifier))
        : null,
    });
  for (const m of text.matchAll(FROM)) add(m[3], Boolean(m[2]));
  for (const m of text.matchAll(BARE)) add(m[1], false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1], false);
  return found;
}

/** Every .ts file under `dir` (relative to the repository root), sorted. */
export async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const entry of Deno.readDir(join(ROOT, d))) {
      const path = join(d, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && /\.tsx?$/.test(entry.name)) out.push(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/** The import graph of the files under `dirs`: file → the project files it imports. */
export async function importGraph(dirs: string[]): Promise<Map<string, Import[]>> {
  const graph = new Map<string, Import[]>();
  for (const dir of dirs) {
    for (const file of await sourceFiles(dir)) {
      graph.set(file, importsOf(file, await Deno.readTextFile(join(ROOT, file))));
    }
  }
  return graph;
}

/** Each import cycle once, as the files around it (the first one repeated at the end). */
export function cycles(graph: Map<string, Import[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const { target } of graph.get(file) ?? []) {
      if (target === null || !graph.has(target)) continue;
      if (state.get(target) === "open") {
        found.push([...stack.slice(stack.indexOf(target)), target]);
      } else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}
