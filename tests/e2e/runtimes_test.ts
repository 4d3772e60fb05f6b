import assert from "node:assert/strict";
import {
  type AppProcess,
  type AppRuntime,
  startAppProcess,
} from "../../tools/stack/app_process.ts";
import { freePort } from "../../tools/stack/mod.ts";
import { bearer, clientWithKey } from "../_support/app.ts";
import { processTree } from "../_support/processes.ts";
import { sql, testStack } from "../_support/stack.ts";

/**
 * Headers that belong to the connection rather than the app: each server sets them its own way
 * (its own date, chunked or a length, its own compression choices).
 */
const TRANSPORT_HEADERS = new Set([
  "connection",
  "content-encoding",
  "content-length",
  "date",
  "keep-alive",
  "server",
  "transfer-encoding",
  "vary",
]);

interface Case {
  name: string;
  /** what Deno answers, so that the comparison cannot pass by both failing the same way */
  status: number;
  path: string;
  /** a function where the body can be read only once (a stream) */
  init?: RequestInit | (() => RequestInit);
  /** dotted paths into the JSON body whose values differ by nature (ids, keys, timestamps) */
  volatile?: string[];
  /** header values that differ by nature; they must be present on both and match the pattern */
  volatileHeaders?: Record<string, RegExp>;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

async function ask(app: AppProcess, c: Case, requestId: string): Promise<Answer> {
  const init = typeof c.init === "function" ? c.init() : c.init;
  const headers = new Headers(init?.headers);
  headers.set("x-request-id", requestId);
  // identical bytes on the wire for both runtimes: compression is the server's business
  headers.set("accept-encoding", "identity");
  const res = await fetch(`${app.url}${c.path}`, {
    ...init,
    headers,
    redirect: "manual",
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: unknown = text;
  if (res.headers.get("content-type")?.includes("json")) body = JSON.parse(text);
  const kept: Record<string, string> = {};
  for (const [name, value] of res.headers) {
    if (TRANSPORT_HEADERS.has(name)) continue;
    const pattern = c.volatileHeaders?.[name];
    if (pattern) {
      assert.match(value, pattern, `${app.runtime}: ${c.name}: header ${name}`);
      kept[name] = `<${name}>`;
    } else kept[name] = value;
  }
  for (const path of c.volatile ?? []) blank(body, path, `${app.runtime}: ${c.name}`);
  return { status: res.status, headers: kept, body };
}

function blank(body: unknown, path: string, what: string) {
  const parts = path.split(".");
  let node = body as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node?.[part] as Record<string, unknown>;
  const last = parts[parts.length - 1];
  assert.ok(node && last in node, `${what}: the body has ${path}`);
  node[last] = `<${path}>`;
}

/** A body that arrives in chunks without a Content-Length, so only counting can catch it. */
function streamed(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close();
      const chunk = new TextEncoder().encode("x".repeat(Math.min(1024, size - sent)));
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

/**
 * The app as each runtime serves it: `deno run src/entry/deno.ts` and `wrangler dev` (workerd), both
 * against the test stack. Every request carries the same X-Request-Id to both, so error envelopes
 * compare byte for byte; only what differs by nature (a new key, its id and time) is blanked.
 */
Deno.test("Deno and workerd give identical responses to the same requests", async () => {
  const env = {
    ...testStack().appEnv,
    LOG_LEVEL: "error",
    MAX_BODY_BYTES: "4096",
    AUTH_FAILURES_PER_MINUTE: "5",
  };
  const dir = await Deno.makeTempDir({ prefix: "glooft-runtimes-" });
  const apps: AppProcess[] = [];
  try {
    const started = await Promise.allSettled(
      (["deno", "workerd"] as AppRuntime[]).map(async (runtime) =>
        startAppProcess({ runtime, env, port: await freePort(), dir, readyTimeoutMs: 45_000 })
      ),
    );
    for (const s of started) if (s.status === "fulfilled") apps.push(s.value);
    for (const s of started) if (s.status === "rejected") throw s.reason;
    const [deno, workerd] = apps;
    const binaries = processTree(workerd.pid).map((p) => p.comm);
    assert.ok(binaries.includes("workerd"), `wrangler dev runs workerd: ${binaries.join(", ")}`);

    const full = await clientWithKey({ name: "Runtime parity client" });
    const readOnly = await clientWithKey({ scopes: ["messages:read"] });
    const keysOnly = await clientWithKey({ scopes: ["api-keys:manage"] });
    const revoked = await clientWithKey();
    await sql("update api_keys set revoked_at = now() where id = $1", [revoked.keyId]);
    const unknownKey = full.key.slice(0, -4) + (full.key.endsWith("AAAA") ? "BBBB" : "AAAA");
    const json = (key: string, body: unknown): RequestInit => ({
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const verifyToken = testStack().secrets.meta_verify_token;

    const cases: Case[] = [
      { name: "health check", status: 200, path: "/healthz" },
      // the Shopify plugin's page, rendered with hono/jsx, and its webhook refusing a bad HMAC
      {
        name: "the Shopify page without a session token",
        status: 401,
        path: "/plugins/shopify/app",
      },
      { name: "the Shopify page's stylesheet", status: 200, path: "/plugins/shopify/app/style" },
      {
        name: "a Shopify webhook with a bad HMAC",
        status: 401,
        path: "/webhooks/shopify",
        init: {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-shopify-hmac-sha256": "A".repeat(43) + "=",
            "x-shopify-shop-domain": "parity.myshopify.com",
            "x-shopify-webhook-id": "parity-1",
            "x-shopify-topic": "orders/create",
          },
          body: "{}",
        },
        volatile: ["error.request_id"],
      },
      {
        name: "me with a good key",
        status: 200,
        path: "/v1/me",
        init: { headers: bearer(full.key) },
      },
      {
        name: "me with an unknown key",
        status: 401,
        path: "/v1/me",
        init: { headers: bearer(unknownKey) },
      },
      {
        name: "me with a malformed key",
        status: 401,
        path: "/v1/me",
        init: { headers: bearer("glf_live_short") },
      },
      {
        name: "me with a revoked key",
        status: 401,
        path: "/v1/me",
        init: { headers: bearer(revoked.key) },
      },
      { name: "me without credentials", status: 401, path: "/v1/me" },
      {
        name: "a route outside the key's scopes",
        status: 403,
        path: "/v1/api-keys",
        init: { headers: bearer(readOnly.key) },
      },
      {
        name: "create a key",
        status: 201,
        path: "/v1/api-keys",
        init: json(full.key, { name: "parity", environment: "test", scopes: ["messages:read"] }),
        volatile: ["key", "api_key.id", "api_key.prefix", "api_key.created_at"],
      },
      {
        name: "create a key with an invalid body",
        status: 400,
        path: "/v1/api-keys",
        init: json(full.key, { name: "", environment: "staging", scopes: ["nope"] }),
      },
      {
        name: "create a key from malformed JSON",
        status: 400,
        path: "/v1/api-keys",
        init: json(full.key, "{not json"),
      },
      {
        name: "create a key with scopes the caller lacks",
        status: 403,
        path: "/v1/api-keys",
        init: json(keysOnly.key, { name: "escalate", scopes: ["messages:send"] }),
      },
      {
        name: "revoke a key that does not exist",
        status: 404,
        path: `/v1/api-keys/${crypto.randomUUID()}`,
        init: { method: "DELETE", headers: bearer(full.key) },
      },
      {
        name: "revoke with an id that is not a uuid",
        status: 400,
        path: "/v1/api-keys/not-a-uuid",
        init: { method: "DELETE", headers: bearer(full.key) },
      },
      { name: "unknown route", status: 404, path: "/no-such-route" },
      {
        name: "oversized body with a Content-Length",
        status: 413,
        path: "/v1/api-keys",
        init: json(full.key, { name: "x".repeat(8192), scopes: ["messages:read"] }),
      },
      {
        name: "oversized body streamed in chunks",
        status: 413,
        path: "/v1/api-keys",
        init: () => ({ ...json(full.key, ""), body: streamed(16_384) }),
      },
      {
        name: "Meta webhook handshake",
        status: 200,
        path: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${
          encodeURIComponent(verifyToken)
        }&hub.challenge=1158201444`,
      },
      {
        name: "Meta webhook handshake with a wrong token",
        status: 403,
        path: "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
      },
      { name: "OpenAPI document", status: 200, path: "/openapi.json" },
      { name: "API reference page", status: 200, path: "/docs" },
      // server-rendered with hono/jsx: the Worker's bundle must compile it the same way
      { name: "privacy page", status: 200, path: "/privacy" },
      { name: "privacy stylesheet", status: 200, path: "/privacy/privacy.css" },
      {
        name: "an unknown confirmation code",
        status: 404,
        path: "/privacy/requests/7K3Q-AAAA-BBBB-CCCC-DDDD",
      },
      {
        name: "Meta's data deletion callback, forged",
        status: 401,
        path: "/privacy/meta/data-deletion",
        init: {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "signed_request=eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg.e30",
        },
      },
      // the fifth failed authentication from this address (limit 5), then the throttle
      {
        name: "one failure too many",
        status: 401,
        path: "/v1/me",
        init: { headers: bearer(unknownKey) },
      },
      {
        name: "throttled after repeated failures",
        status: 429,
        path: "/v1/me",
        init: { headers: bearer(full.key) },
        volatileHeaders: { "retry-after": /^([1-9]|[1-5][0-9]|60)$/ },
      },
    ];

    const differences: string[] = [];
    const logged: string[] = [];
    for (const [i, c] of cases.entries()) {
      const requestId = `parity-${String(i).padStart(2, "0")}-${crypto.randomUUID().slice(0, 8)}`;
      // health checks and Meta's handshakes are not logged (AppEnv's unlogged)
      if (c.path !== "/healthz" && !c.path.startsWith("/webhooks/whatsapp?")) {
        logged.push(requestId);
      }
      const onDeno = await ask(deno, c, requestId);
      const onWorkerd = await ask(workerd, c, requestId);
      assert.equal(onDeno.status, c.status, `${c.name} on Deno: ${JSON.stringify(onDeno.body)}`);
      try {
        assert.deepEqual(onWorkerd, onDeno);
      } catch (error) {
        differences.push(`${c.name} (${c.path}):\n${(error as Error).message}`);
      }
    }
    assert.equal(
      differences.length,
      0,
      `workerd differs from Deno:\n\n${differences.join("\n\n")}`,
    );

    // the side effect too: both write the same API request log row for each request; rows are
    // written in batches after the answer (on Workers through the queue), so wait for them
    type LogRow = { request_id: string; [column: string]: unknown };
    let rows: LogRow[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      rows = await sql<LogRow>(
        "select request_id, client_id, method, route, status, host(ip) as ip, user_agent " +
          "from api_request_log where request_id = any($1)",
        [logged],
      );
      if (rows.length >= 2 * logged.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const id of logged) {
      const pair = rows.filter((r) => r.request_id === id);
      assert.equal(pair.length, 2, `${id} is in the request log once per runtime`);
      assert.deepEqual(pair[0], pair[1]);
    }
  } finally {
    await Promise.all(apps.map((a) => a.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
