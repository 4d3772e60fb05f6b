import { encryptField } from "../../src/core/crypto/envelope.ts";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";
import { type TemplateSeed } from "../../tools/emulators/graph_api.ts";
import { clientWithKey, type Json } from "./app.ts";
import { sql, testApp, testStack } from "./stack.ts";
import { ORDER_UPDATE, storeTemplates, withMetaIds } from "./templates.ts";

let counter = Date.now() % 1_000_000_000;
const uniqueDigits = (prefix: string) => `${prefix}${String(++counter).padStart(12, "0")}`;

/**
 * A whole WhatsApp channel for one fresh client: the real app served over HTTP, the Graph API
 * emulator posting signed status webhooks back to it, and the client's WABA (with its access token
 * encrypted as production stores it) and phone number. The WABA has `templates` (default: the
 * order_update template) both in the client's template store, as a sync just left it, and for
 * the emulator to hold.
 */
export async function startChannel(options: {
  /** the app's configuration overrides; a function gets the channel's client id first */
  env?: Record<string, string> | ((ids: { clientId: string }) => Record<string, string>);
  doorbell?: NonNullable<Parameters<typeof testApp>[1]>["doorbell"];
  /** the plugins to run instead of plugins/mod.ts's, with their settings */
  plugins?: Pick<
    NonNullable<Parameters<typeof testApp>[1]>,
    "plugins" | "pluginEnv" | "pluginRetryDelaysMs"
  >;
  /** the Graph API the app talks to (an emulator); unset = an address where nothing listens */
  graph?: (
    ids: {
      appWebhookUrl: string;
      phoneNumberId: string;
      accessToken: string;
      wabaId: string;
      templates: TemplateSeed[];
    },
  ) => Promise<{ url: string; close(): Promise<void> }>;
  templates?: TemplateSeed[];
} = {}) {
  const secrets = testStack().secrets;
  const { clientId, key } = await clientWithKey({ name: "Channel test client" });
  const wabaId = uniqueDigits("9");
  const phoneNumberId = uniqueDigits("8");
  const accessToken = `EMU-${crypto.randomUUID()}`;

  // the app listens first (port 0, so no other socket can take its port between a choice and the
  // bind) and answers once composed: the emulator needs its webhook URL, and the app the emulator's
  const ready: { app?: Deno.ServeHandler<Deno.NetAddr> } = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => ready.app ? ready.app(req, info) : new Response("starting", { status: 503 }),
  );
  const appUrl = `http://127.0.0.1:${server.addr.port}`;
  const appWebhookUrl = `${appUrl}/webhooks/whatsapp`;
  const templates = withMetaIds(options.templates ?? [ORDER_UPDATE]);
  let graph: { url: string; close(): Promise<void> } | undefined;
  let composed: Awaited<ReturnType<typeof testApp>>;
  try {
    graph = options.graph
      ? await options.graph({ appWebhookUrl, phoneNumberId, accessToken, wabaId, templates })
      : { url: "http://127.0.0.1:9", close: () => Promise.resolve() };
    composed = await testApp({
      GRAPH_API_BASE_URL: graph.url,
      RECIPIENT_MIN_INTERVAL_MS: "0",
      SEND_AMBIGUOUS_WAIT_MS: "1500",
      GRAPH_API_TIMEOUT_MS: "1000",
      ...(typeof options.env === "function" ? options.env({ clientId }) : options.env),
    }, { doorbell: options.doorbell, ...options.plugins });
  } catch (error) {
    await graph?.close();
    await server.shutdown();
    throw error;
  }
  ready.app = (req, info) => composed.app.fetch(req, { remoteAddr: info.remoteAddr.hostname });

  const dek = await composed.deps.services.dataKeys.forClient(clientId);
  const [waba] = await sql<{ id: string }>(
    "insert into whatsapp_business_accounts (client_id, waba_id, access_token_ciphertext) values ($1, $2, $3) returning id",
    [clientId, wabaId, await encryptField(dek, accessToken, `wa_token:${wabaId}`)],
  );
  await sql(
    "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '15550001111')",
    [clientId, waba.id, phoneNumberId],
  );
  await storeTemplates(clientId, waba.id, templates);

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${appUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        ...init.headers,
      },
    });
    const text = await res.text();
    let body: Json = text;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, body, headers: res.headers };
  };

  /** Posts a webhook body to the app exactly as Meta would: raw JSON with its signature. */
  const postWebhook = async (payload: unknown, signWith = secrets.meta_app_secret) => {
    const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
    const res = await fetch(`${appUrl}/webhooks/whatsapp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-hub-signature-256": await signMetaPayload(new TextEncoder().encode(raw), signWith),
      },
      body: raw,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };

  return {
    clientId,
    key,
    wabaId,
    wabaAccountId: waba.id,
    phoneNumberId,
    accessToken,
    appUrl,
    graphUrl: graph.url,
    app: composed,
    api,
    postWebhook,
    /** waits until every rung job (and every job those rang) has run */
    idle: () => composed.bell?.idle() ?? Promise.resolve(),
    async close() {
      composed.bell?.close();
      await server.shutdown();
      await graph.close();
      await composed.deps.requestLog.flush().catch(() => {});
    },
  };
}

/** Polls `check` until it returns a truthy value or the time runs out (condition, not timing). */
export async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  do {
    const last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < deadline);
  throw new Error(`Timed out waiting for ${what}`);
}
