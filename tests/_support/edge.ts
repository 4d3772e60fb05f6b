import assert from "node:assert/strict";
import { localDoorbell } from "../../src/adapters/deno/local_doorbell.ts";
import { jsonLogger } from "../../src/adapters/logging/json_logger.ts";
import { findSecrets, stackSecrets } from "./secret_scan.ts";
import { sql, testApp } from "./stack.ts";

/**
 * The app composed and served as src/entry/deno.ts serves it: its doorbell (two batches of up to
 * 100 jobs at a time, so deliveries that arrive together are processed together) and Deno.serve,
 * whose HTTP layer answers some requests (oversized headers) before the app sees them.
 */
export async function edgeApp(overrides: Record<string, string> = {}) {
  const logs = teeConsole();
  let bell: ReturnType<typeof localDoorbell> | undefined;
  // the Graph API at an address where nothing listens (as tests/_support/channel.ts does): a
  // request that reaches it fails at once, never on the real graph.facebook.com and its DNS
  const composed = await testApp({ GRAPH_API_BASE_URL: "http://127.0.0.1:9", ...overrides }, {
    doorbell: (handle) =>
      bell = localDoorbell({
        handle,
        logger: jsonLogger({ level: "error", write: () => {} }),
        concurrency: 2,
        batchSize: 100,
      }),
  });
  let served = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => {
      served++;
      return composed.app.fetch(req, {
        remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname,
        waitUntil: () => {},
      });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const fetchApp = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const started = performance.now();
    const res = await fetch(`${url}${path}`, { ...init, redirect: "manual" });
    // the exact characters the app sent: Response#text() would drop a leading byte-order mark
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, text, ms: performance.now() - started };
  };
  return {
    ...composed,
    bell: bell!,
    url,
    fetch: fetchApp,
    /** how many requests reached the app (the runtime's HTTP layer refuses some before it) */
    served: () => served,
    /** waits until every job rung so far (and those they rang) has run, or fails after `ms` */
    async idle(ms = 60_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Processing did not finish within ${ms} ms`)),
          ms,
        );
      });
      try {
        await Promise.race([bell!.idle(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    /** every line written through console since the app was made (its logs among them) */
    logLines: logs.lines,
    async close() {
      bell!.close();
      await server.shutdown();
      await composed.deps.requestLog.flush().catch(() => {});
      logs.stop();
    },
  };
}

export type Edge = Awaited<ReturnType<typeof edgeApp>>;

/**
 * Runs `body` against a fresh edgeApp and closes it; when the body passed, also proves that no
 * line logged meanwhile holds a secret (a credential's shape or one of the stack's secrets), so
 * every hostile request of every test is also a probe of the logs.
 */
export async function withEdge(
  overrides: Record<string, string>,
  body: (edge: Edge) => Promise<unknown>,
) {
  const edge = await edgeApp(overrides);
  let passed = false;
  try {
    await body(edge);
    passed = true;
  } finally {
    await edge.close();
  }
  if (passed) {
    const found = findSecrets(edge.logLines, stackSecrets());
    assert.deepEqual(found.map((f) => `${f.what}: ${f.line.slice(0, 300)}`), [], "secrets logged");
  }
}

/** Copies every console line into `lines` (still writing it out) until stop(). */
function teeConsole() {
  const lines: string[] = [];
  const methods = ["log", "error", "warn", "info", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  methods.forEach((m, i) => {
    console[m] = (...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" "));
      saved[i](...args);
    };
  });
  return { lines, stop: () => methods.forEach((m, i) => (console[m] = saved[i])) };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

/** The one error envelope, with the request id the response carries. */
export function assertEnvelope(res: Answer, context: string) {
  let body: { error?: { code?: unknown; message?: unknown; request_id?: unknown } };
  try {
    body = JSON.parse(res.text);
  } catch {
    assert.fail(
      `${context}: ${res.status} without the JSON error envelope: ${res.text.slice(0, 200)}`,
    );
  }
  const e = body?.error;
  assert.ok(
    e && typeof e.code === "string" && typeof e.message === "string",
    `${context}: ${res.status} without the error envelope: ${res.text.slice(0, 200)}`,
  );
  assert.equal(e.request_id, res.headers.get("x-request-id"), `${context}: request_id`);
}

/** Rows in the tables a webhook delivery can write to, to prove an unverified one wrote none. */
export async function webhookRowCounts() {
  const [row] = await sql<Record<string, number>>(
    `select (select count(*)::int from webhook_inbox) as webhook_inbox,
            (select count(*)::int from messages) as messages,
            (select count(*)::int from message_status_events) as message_status_events,
            (select count(*)::int from whatsapp_account_events) as whatsapp_account_events,
            (select count(*)::int from unrouted_webhook_events) as unrouted_webhook_events,
            (select count(*)::int from contacts) as contacts`,
  );
  return row;
}

let sequence = 0;
const digits = (prefix: string) =>
  `${prefix}${String(Date.now() % 1e9).padStart(9, "0")}${String(++sequence).padStart(4, "0")}`;

/** A client with one WhatsApp Business account and number, seeded through SQL. */
export async function tenantWithNumber(name: string) {
  const [client] = await sql<{ id: string }>(
    "insert into clients (name) values ($1) returning id",
    [name],
  );
  const wabaId = digits("7");
  const phoneNumberId = digits("6");
  const [waba] = await sql<{ id: string }>(
    "insert into whatsapp_business_accounts (client_id, waba_id, name) values ($1, $2, 'w') returning id",
    [client.id, wabaId],
  );
  const [phone] = await sql<{ id: string }>(
    "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '15550001111') returning id",
    [client.id, waba.id, phoneNumberId],
  );
  return { clientId: client.id, wabaId, phoneNumberId, phoneId: phone.id, wabaRowId: waba.id };
}
