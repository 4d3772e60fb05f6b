/** One call the app made to the Supabase API: its method and path (with the query). */
export interface DatabaseCall {
  method: string;
  path: string;
  at: number;
}

/**
 * Sits between an app and the stack's Supabase gateway and notes every call it forwards, so a
 * test can say what reached the database. Point the app's SUPABASE_URL at `url`.
 */
export function watchDatabaseCalls(upstream: string) {
  const seen: DatabaseCall[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      seen.push({ method: req.method, path: url.pathname + url.search, at: Date.now() });
      const target = new URL(url.pathname + url.search, upstream);
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(target, {
        method: req.method,
        headers,
        body: req.body,
        redirect: "manual",
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    calls: () => [...seen],
    /** resolves once no call came for `quietMs` (what the app does at start has settled) */
    async settled(quietMs = 1000, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const last = seen.at(-1)?.at ?? 0;
        if (Date.now() - last >= quietMs) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`The app kept calling the database for ${timeoutMs} ms`);
    },
    close: () => server.shutdown(),
  };
}

/** Calls that write: PostgREST reads are GET and HEAD; inserts, updates, deletes and RPCs are not. */
export const writes = (calls: DatabaseCall[]) =>
  calls.filter((c) => c.method !== "GET" && c.method !== "HEAD");
