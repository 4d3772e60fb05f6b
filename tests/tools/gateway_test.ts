import assert from "node:assert/strict";
import { startGateway, upstreamUrl } from "../../tools/stack/gateway.ts";
import { freePort } from "../../tools/stack/mod.ts";

/** A local server that records the path and query of every request it gets. */
function recorder() {
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    got.push(url.pathname + url.search);
    return Response.json({ from: "recorder" });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, port: server.addr.port, got, server };
}

Deno.test("the dev gateway forwards /rest/v1 to PostgREST only: a path cannot name another host or port", async () => {
  const postgrest = recorder();
  const victim = recorder();
  const key = "anon-key-for-the-gateway-test";
  const gateway = startGateway({
    port: await freePort(),
    postgrestUrl: postgrest.url,
    apiKeys: [key],
  });
  try {
    const ask = async (path: string) => {
      const res = await fetch(`${gateway.url}${path}`, { headers: { apikey: key } });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await ask("/rest/v1/clients?select=id"), 200);
    assert.equal(await ask("/rest/v1"), 200);
    assert.deepEqual(postgrest.got, ["/clients?select=id", "/"]);

    const v = victim.port;
    for (
      const path of [
        `/rest/v1@127.0.0.1:${v}/secrets`,
        `/rest/v1:x@127.0.0.1:${v}/secrets`,
        `/rest/v1.evil/secrets`,
        `/rest/v1%40127.0.0.1:${v}/secrets`,
      ]
    ) {
      assert.equal(await ask(path), 404, path);
    }
    // under the prefix, whatever follows stays a path on PostgREST
    for (const path of [`/rest/v1//127.0.0.1:${v}/secrets`, `/rest/v1/@127.0.0.1:${v}/secrets`]) {
      assert.equal(await ask(path), 200, path);
    }
    assert.deepEqual(victim.got, [], "nothing reached the other local service");
    assert.equal(postgrest.got.length, 4);
  } finally {
    await gateway.close();
    await postgrest.server.shutdown();
    await victim.server.shutdown();
  }
});

Deno.test("upstreamUrl() keeps PostgREST's origin for every path", () => {
  const base = "http://127.0.0.1:54330";
  const paths = [
    "/rest/v1/x",
    "/rest/v1//evil.example/x",
    "/rest/v1/@evil.example/x",
    "/rest/v1/..%2f..%2fx",
    "/rest/v1/%00",
    "/rest/v1/\\\\evil.example/x",
  ];
  for (const path of paths) {
    const target = upstreamUrl(base, new URL(`http://gw${path}?a=1`));
    assert.equal(target?.origin, base, path);
    assert.equal(target?.search, "?a=1");
  }
  for (const path of ["/rest/v1@evil.example/x", "/rest/v1x", "/rest", "/"]) {
    assert.equal(upstreamUrl(base, new URL(`http://gw${path}`)), null, path);
  }
});
