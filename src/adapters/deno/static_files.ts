import { getMimeType } from "hono/utils/mime";

/** Files of Cloudflare's own that configure static assets rather than being served. */
const CONFIG_FILES = new Set(["_headers", "_redirects", ".assetsignore"]);

/**
 * Serves the files under `root` (public/) the way Workers serves them as static assets before the
 * Worker runs: a GET or HEAD for a path that is exactly a file there gets the file, anything else
 * goes to the app (null). The set of files is read once at start-up and a request is looked up in
 * it, never joined onto a file path, so no spelling of a path can reach outside `root`. Links are
 * followed when listing (the Swagger UI files link into node_modules); `missing` names the links
 * that lead nowhere (node_modules not installed), which are not served.
 */
export async function staticFiles(root: string): Promise<{
  serve: (request: Request) => Promise<Response | null>;
  missing: string[];
}> {
  const files = new Map<string, string>();
  const missing: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (CONFIG_FILES.has(entry.name) || entry.name.startsWith(".")) continue;
      const path = `${dir}/${entry.name}`;
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        missing.push(`${prefix}${entry.name}`);
        continue;
      }
      if (info.isDirectory) await walk(path, `${prefix}${entry.name}/`);
      else if (info.isFile) files.set(`${prefix}${entry.name}`, path);
    }
  };
  await walk(root.replace(/\/$/, ""), "/");
  return { serve, missing };

  async function serve(request: Request): Promise<Response | null> {
    if (request.method !== "GET" && request.method !== "HEAD") return null;
    const path = files.get(new URL(request.url).pathname);
    if (!path) return null;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null; // removed since start-up
      throw error;
    }
    const { size } = await file.stat();
    const headers = {
      "Content-Type": getMimeType(path) ?? "application/octet-stream",
      "Content-Length": String(size),
      // as public/_headers has Cloudflare add to every static file
      "X-Content-Type-Options": "nosniff",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "public, max-age=0, must-revalidate",
    };
    if (request.method === "HEAD") {
      file.close();
      return new Response(null, { headers });
    }
    return new Response(file.readable, { headers });
  }
}
