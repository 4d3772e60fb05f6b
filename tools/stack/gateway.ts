/**
 * A minimal stand-in for Supabase's API gateway: supabase-js talks to `<SUPABASE_URL>/rest/v1/...`,
 * so requests under that prefix are forwarded to PostgREST with the prefix removed. Like the hosted
 * gateway, it requires an `apikey` header that is one of the project's keys.
 */
export function startGateway(options: {
  port: number;
  postgrestUrl: string;
  apiKeys: string[];
}): { url: string; close(): Promise<void> } {
  const keys = new Set(options.apiKeys);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (!url.pathname.startsWith("/rest/v1")) {
        return Response.json({ message: "Not found" }, { status: 404 });
      }
      const apikey = req.headers.get("apikey") ?? url.searchParams.get("apikey");
      if (!apikey || !keys.has(apikey)) {
        return Response.json(
          {
            message: "No API key found in request",
            hint: "No `apikey` request header or url param was found.",
          },
          { status: 401 },
        );
      }
      const target = options.postgrestUrl + url.pathname.slice("/rest/v1".length) + url.search;
      const headers = new Headers(req.headers);
      headers.delete("host");
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${apikey}`);
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
    url: `http://127.0.0.1:${options.port}`,
    close: () => server.shutdown(),
  };
}
