import { dirname, relative, resolve } from "node:path";
import { ROOT } from "../tools/stack/mod.ts";

export interface SourceMap {
  sources: string[];
  mappings: string;
}

/** Per generated line, the segments that start a stretch: [column, source index or -1]. */
export type Segments = Array<Array<[number, number]>>;

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * Decodes a source map's mappings (base64 VLQ; fields are deltas: generated column, source
 * index, ...; ";" starts a new generated line). Enough to say which source any column came from.
 */
export function decodeMappings(mappings: string): Segments {
  let source = 0;
  return mappings.split(";").map((line) => {
    let column = 0;
    const segments: Array<[number, number]> = [];
    for (const segment of line ? line.split(",") : []) {
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
      if (fields.length > 1) source += fields[1];
      segments.push([column, fields.length > 1 ? source : -1]);
    }
    return segments;
  });
}

/**
 * The source index the generated (0-based) line and column come from, or -1. A segment without a
 * source (esbuild emits them for glue it generates) counts as part of the stretch before it.
 */
export function sourceAt(segments: Segments, line: number, column: number): number {
  let found = -1;
  for (const [start, source] of segments[line] ?? []) {
    if (start > column) break;
    if (source >= 0) found = source;
  }
  return found;
}

/** The package (node_modules/<name>, scoped too) or repository folder a source belongs to. */
export function owner(path: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) return pkg;
  if (/^(src|plugins)\//.test(path)) return `${path.split("/")[0]}/ (this repository)`;
  return path;
}

/** A source map's source, made relative to the repository like esbuild's metafile inputs. */
export function repoPath(bundle: string, source: string): string {
  return relative(ROOT, resolve(dirname(bundle), source));
}
