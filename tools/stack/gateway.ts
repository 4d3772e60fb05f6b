const PREFIX = "/rest/v1";

/**
 * The PostgREST URL a request path stands for, or null when the path is not under the prefix.
 * Only the path and query are taken from the request, set through the URL API: joined as text, a
 * path such as `/rest/v1@127.0.0.1:8787/x` made `http://127.0.0.1:54330@127.0.0.1:8787/x`, whose
 * host is the part after the `@`, and the gateway forwarded anything to any local service.
 */
export function upstreamUrl(postgrestUrl: string, incoming: URL): URL | null {
  const rest = incoming.pathname.slice(PREFIX.length);
  if (!incoming.pathname.startsWith(PREFIX) || (rest !== "" && !rest.startsWith("/"))) return null;
  const target = new URL(postgrestUrl);
  target.pathname = rest || "/";
  target.search = incoming.search;
  return target;
}

/**
 * A minimal stand-in for Supabase's API gateway: supabase-js talks to `<SUPABASE_URL>/rest/v1/...`,
 * so requests under that prefix are forwarded to PostgREST (and only to it) with the prefix
 * removed. Like the hosted gateway, it requires an `apikey` header that is one of the project's
 * keys.
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
      const target = upstreamUrl(options.postgrestUrl, url);
      if (!target) return Response.json({ message: "Not found" }, { status: 404 });
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
      const headers = new Headers(req.headers);
      headers.delete("host");
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${apikey}`);
      let res: Response;
      try {
        res = await fetch(target, {
          method: req.method,
          headers,
          body: req.body,
          redirect: "manual",
        });
      } catch {
        // what the hosted gateway answers while PostgREST is down or restarting
        return Response.json({
          message: "An invalid response was received from the upstream server",
        }, {
          status: 502,
        });
      }
      return new Response(res.body, { status: res.status, headers: res.headers });
    },
  );
  return {
    url: `http://127.0.0.1:${options.port}`,
    close: () => server.shutdown(),
  };
}
