import { parseArgs } from "node:util";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";

/**
 * WhatsApp Cloud (Graph) API emulator: the local sandbox and the test double for Meta. It speaks
 * the documented protocol (send, mark as read, media), answers with Graph error envelopes and codes,
 * posts signed status webhooks back to the app, simulates users writing in, and injects faults.
 */

/**
 * What an injected fault does to a send. The first three answer; the rest leave the caller without
 * an answer it can read, before Meta accepted the message or after (the ambiguous sends):
 * - `hang`: not accepted; no answer until the caller gives up
 * - `reset`: not accepted; the connection ends in the middle of the answer (Deno.serve cannot drop
 *   it before the status line), so the caller cannot read one
 * - `drop_after_accept`: accepted (its status webhooks follow); no answer until the caller gives up
 * - `reset_after_accept`: accepted; the answer is cut off as with `reset`
 */
export type FaultKind =
  | "rate_limit"
  | "server_error"
  | "slow"
  | "hang"
  | "reset"
  | "drop_after_accept"
  | "reset_after_accept";
export interface FaultConfig {
  rate: number;
  kinds: FaultKind[];
  slowMs?: number;
  seed?: number;
  /** at most this many faults, then every send succeeds (a scripted outage rather than a rate) */
  limit?: number;
}

export interface EmulatedMessage {
  wamid: string;
  phoneNumberId: string;
  to: string;
  type: string;
  body: Record<string, unknown>;
  bizOpaqueCallbackData?: string;
  receivedAt: string;
  status: "accepted" | "sent" | "delivered" | "read" | "failed";
}

export interface GraphEmulatorOptions {
  port?: number;
  hostname?: string;
  appSecret: string;
  webhookUrl?: string;
  tokens?: Record<string, string>;
  statusDelaysMs?: { sent: number; delivered: number; read: number | null };
  wabaIdFor?: (phoneNumberId: string) => string;
  undeliverable?: string[];
  faults?: FaultConfig;
  pairRateLimit?: boolean;
  quiet?: boolean;
  /**
   * How a webhook the app does not acknowledge is retried: `attempts` in all, waits doubling from
   * 100 ms up to `maxDelayMs`. Meta retries for up to 7 days; the default (4 attempts, 1.5 s in
   * all) suits tests where the app is up, fault tests set more.
   */
  webhookRetry?: { attempts: number; maxDelayMs: number };
}

const SEND_TYPES = new Set([
  "text",
  "template",
  "image",
  "video",
  "audio",
  "document",
  "sticker",
  "location",
  "contacts",
  "interactive",
  "reaction",
]);
const MEDIA_TYPES = new Set(["image", "video", "audio", "document", "sticker"]);

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fbtrace = () => crypto.randomUUID().replaceAll("-", "").slice(0, 11);
const newWamid = () =>
  `wamid.${
    crypto.getRandomValues(new Uint8Array(24)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    })
  }`;

function graphError(status: number, code: number, message: string, details?: string) {
  return Response.json({
    error: {
      message,
      type: "OAuthException",
      code,
      ...(details ? { error_data: { messaging_product: "whatsapp", details } } : {}),
      fbtrace_id: fbtrace(),
    },
  }, { status });
}

/** Why a send body is invalid, as Meta would say it, or null when it is fine. */
/** A send body as received: any JSON object; `validate` checks what Meta would. */
// deno-lint-ignore no-explicit-any
type SendBody = Record<string, any>;

function validate(body: SendBody): Response | null {
  if (body.messaging_product !== "whatsapp") {
    return graphError(400, 100, "(#100) Invalid parameter", "messaging_product must be whatsapp");
  }
  if (!body.to && !body.recipient) {
    return graphError(
      400,
      131008,
      "(#131008) Required parameter is missing",
      "Parameter 'to' is required.",
    );
  }
  const type = body.type ?? "text";
  if (!SEND_TYPES.has(type)) {
    return graphError(
      400,
      131051,
      "(#131051) Message type unknown",
      `Unsupported message type: ${type}`,
    );
  }
  const part = body[type];
  if (!part || typeof part !== "object") {
    return graphError(
      400,
      131008,
      "(#131008) Required parameter is missing",
      `Parameter '${type}' is required.`,
    );
  }
  if (type === "text" && (typeof part.body !== "string" || !part.body || part.body.length > 4096)) {
    return graphError(
      400,
      131009,
      "(#131009) Parameter value is not valid",
      "text.body must be 1 to 4096 characters",
    );
  }
  if (type === "template" && (!part.name || !part.language?.code)) {
    return graphError(
      400,
      131008,
      "(#131008) Required parameter is missing",
      "template.name and template.language.code are required",
    );
  }
  if (MEDIA_TYPES.has(type) && !part.id && !part.link) {
    return graphError(
      400,
      131008,
      "(#131008) Required parameter is missing",
      `${type}.id or ${type}.link is required`,
    );
  }
  if (type === "interactive" && (!part.type || !part.action)) {
    return graphError(
      400,
      131008,
      "(#131008) Required parameter is missing",
      "interactive.type and interactive.action are required",
    );
  }
  return null;
}

export function startGraphEmulator(options: GraphEmulatorOptions) {
  const log: EmulatedMessage[] = [];
  const reads: Array<{ phoneNumberId: string; messageId: string; at: string }> = [];
  const media = new Map<string, { bytes: Uint8Array; mimeType: string; sha256: string }>();
  const deliveries: Array<{ kind: string; status: number | null; at: string }> = [];
  const injected: Record<FaultKind, number> = {
    rate_limit: 0,
    server_error: 0,
    slow: 0,
    hang: 0,
    reset: 0,
    drop_after_accept: 0,
    reset_after_accept: 0,
  };
  let injectedSinceSet = 0;
  const lastToRecipient = new Map<string, number>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const inflight = new Set<Promise<unknown>>();
  const closing = new AbortController();
  let faults: FaultConfig = options.faults ?? { rate: 0, kinds: [] };
  let random = mulberry32(faults.seed ?? 1);
  const delays = options.statusDelaysMs ?? { sent: 50, delivered: 100, read: 150 };
  const wabaFor = options.wabaIdFor ?? (() => "102290129340398");
  let url = "";

  const setFaults = (f: FaultConfig) => {
    faults = f;
    random = mulberry32(f.seed ?? 1);
    injectedSinceSet = 0;
  };
  const retry = options.webhookRetry ?? { attempts: 4, maxDelayMs: 800 };
  const later = (ms: number, fn: () => unknown) => {
    const t = setTimeout(() => {
      timers.delete(t);
      track(Promise.resolve().then(fn));
    }, ms);
    timers.add(t);
  };
  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => {}).finally(() => inflight.delete(q));
    inflight.add(q);
    return q;
  };

  /** Posts one signed webhook, retrying a few times as Meta does when the app does not answer 2xx. */
  async function postWebhook(kind: string, payload: unknown): Promise<number | null> {
    if (!options.webhookUrl) return null;
    const raw = new TextEncoder().encode(JSON.stringify(payload));
    const signature = await signMetaPayload(raw, options.appSecret);
    let status: number | null = null;
    for (let attempt = 0; attempt < retry.attempts && !closing.signal.aborted; attempt++) {
      try {
        const res = await fetch(options.webhookUrl, {
          method: "POST",
          headers: { "content-type": "application/json", "x-hub-signature-256": signature },
          body: raw,
          signal: AbortSignal.any([closing.signal, AbortSignal.timeout(10_000)]),
        });
        await res.body?.cancel();
        status = res.status;
        if (res.ok) break;
      } catch {
        status = null;
      }
      if (attempt + 1 < retry.attempts) {
        await new Promise((r) => setTimeout(r, Math.min(retry.maxDelayMs, 100 * 2 ** attempt)));
      }
    }
    deliveries.push({ kind, status, at: new Date().toISOString() });
    return status;
  }

  const envelope = (phoneNumberId: string, value: Record<string, unknown>) => ({
    object: "whatsapp_business_account",
    entry: [{
      id: wabaFor(phoneNumberId),
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
          ...value,
        },
      }],
    }],
  });

  function statusWebhook(
    m: EmulatedMessage,
    status: EmulatedMessage["status"],
    errors?: unknown[],
  ) {
    m.status = status;
    const category = m.type === "template" ? "utility" : "service";
    return postWebhook(
      `status:${status}`,
      envelope(m.phoneNumberId, {
        statuses: [{
          id: m.wamid,
          status,
          timestamp: String(Math.floor(Date.now() / 1000)),
          recipient_id: m.to,
          ...(m.bizOpaqueCallbackData ? { biz_opaque_callback_data: m.bizOpaqueCallbackData } : {}),
          // from v24.0 `conversation` is omitted; pricing comes on sent and on delivered
          ...(status === "sent" || status === "delivered"
            ? { pricing: { billable: true, pricing_model: "PMP", category, type: "regular" } }
            : {}),
          ...(errors ? { errors } : {}),
        }],
      }),
    );
  }

  function scheduleStatuses(m: EmulatedMessage) {
    // each status waits for the previous one, so they reach the app in order (Meta does not
    // promise that; the app is tested against any order separately)
    later(delays.sent, async () => {
      await statusWebhook(m, "sent");
      if (options.undeliverable?.includes(m.to)) {
        later(delays.delivered - delays.sent, () =>
          statusWebhook(m, "failed", [{
            code: 131026,
            title: "Message undeliverable",
            message: "Message undeliverable",
            error_data: { details: "Message Undeliverable." },
          }]));
        return;
      }
      later(Math.max(0, delays.delivered - delays.sent), async () => {
        await statusWebhook(m, "delivered");
        if (delays.read !== null) {
          later(Math.max(0, delays.read - delays.delivered), () => statusWebhook(m, "read"));
        }
      });
    });
  }

  function authorised(req: Request, phoneNumberId?: string): boolean {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (!token) return false;
    if (!options.tokens) return true;
    return phoneNumberId
      ? options.tokens[phoneNumberId] === token
      : Object.values(options.tokens).includes(token);
  }
  const badToken = () =>
    graphError(401, 190, "Invalid OAuth access token - Cannot parse access token");

  async function send(req: Request, phoneNumberId: string): Promise<Response> {
    if (!authorised(req, phoneNumberId)) return badToken();
    let body: SendBody;
    try {
      body = await req.json();
    } catch {
      return graphError(400, 100, "(#100) Invalid parameter", "The request body is not valid JSON");
    }
    if (body.status === "read") {
      if (body.messaging_product !== "whatsapp" || !body.message_id) {
        return graphError(400, 100, "(#100) Invalid parameter", "message_id is required");
      }
      reads.push({ phoneNumberId, messageId: body.message_id, at: new Date().toISOString() });
      return Response.json({ success: true });
    }
    const invalid = validate(body);
    if (invalid) return invalid;

    const faulted = faults.rate > 0 && faults.kinds.length > 0 &&
        injectedSinceSet < (faults.limit ?? Infinity) && random() < faults.rate
      ? faults.kinds[Math.floor(random() * faults.kinds.length)]
      : null;
    if (faulted) injectedSinceSet++;
    if (faulted === "rate_limit") {
      injected.rate_limit++;
      return graphError(
        429,
        130429,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
      );
    }
    if (faulted === "server_error") {
      injected.server_error++;
      return graphError(
        injected.server_error % 2 ? 500 : 503,
        131000,
        "Something went wrong",
        "Something went wrong. Please try again later.",
      );
    }
    if (faulted === "slow") {
      injected.slow++;
      await new Promise((r) => setTimeout(r, faults.slowMs ?? 3000));
    }
    if (faulted === "hang") {
      injected.hang++;
      await untilCallerGivesUp(req);
      return new Response(null, { status: 504 });
    }
    if (faulted === "reset") {
      injected.reset++;
      return cutOff();
    }
    const to = String(body.to ?? body.recipient);
    if (options.pairRateLimit) {
      const last = lastToRecipient.get(`${phoneNumberId}:${to}`) ?? 0;
      if (Date.now() - last < 6000) {
        return graphError(
          400,
          131056,
          "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        );
      }
      lastToRecipient.set(`${phoneNumberId}:${to}`, Date.now());
    }
    const m: EmulatedMessage = {
      wamid: newWamid(),
      phoneNumberId,
      to,
      type: body.type ?? "text",
      body,
      bizOpaqueCallbackData: typeof body.biz_opaque_callback_data === "string"
        ? body.biz_opaque_callback_data
        : undefined,
      receivedAt: new Date().toISOString(),
      status: "accepted",
    };
    log.push(m);
    scheduleStatuses(m);
    if (faulted === "drop_after_accept") {
      injected.drop_after_accept++;
      // accepted and on its way, but the caller never hears: hold the request until it gives up
      await untilCallerGivesUp(req);
      return new Response(null, { status: 504 });
    }
    if (faulted === "reset_after_accept") {
      injected.reset_after_accept++;
      return cutOff();
    }
    return Response.json({
      messaging_product: "whatsapp",
      contacts: [{ input: to, wa_id: to.replace(/\D/g, "") || to }],
      messages: [{ id: m.wamid, ...(m.type === "template" ? { message_status: "accepted" } : {}) }],
    });
  }

  function untilCallerGivesUp(req: Request) {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 60_000);
      const stop = () => (clearTimeout(t), resolve());
      req.signal.addEventListener("abort", stop, { once: true });
      closing.signal.addEventListener("abort", stop, { once: true });
    });
  }

  /** An answer that ends after one byte of the 64 it announces: the connection ends mid-answer. */
  function cutOff(): Response {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("{"));
        controller.close();
      },
    });
    return new Response(body, {
      headers: { "content-type": "application/json", "content-length": "64" },
    });
  }

  async function storeMedia(bytes: Uint8Array, mimeType: string) {
    const id = String(1_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e15)));
    const sha256 = new Uint8Array(
      await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
    ).toHex();
    media.set(id, { bytes, mimeType, sha256 });
    return id;
  }

  async function handle(req: Request): Promise<Response> {
    const u = new URL(req.url);
    const path = u.pathname;
    if (path === "/__emulator/health") return Response.json({ status: "ok" });
    if (path === "/__emulator/messages") {
      if (req.method === "DELETE") return (log.length = 0, new Response(null, { status: 204 }));
      const pn = u.searchParams.get("phone_number_id");
      const to = u.searchParams.get("to");
      return Response.json({
        data: log.filter((m) => (!pn || m.phoneNumberId === pn) && (!to || m.to === to)),
        reads,
      });
    }
    if (path === "/__emulator/webhooks") return Response.json({ data: deliveries });
    if (path === "/__emulator/faults") {
      if (req.method === "POST") setFaults(await req.json());
      if (req.method === "DELETE") setFaults({ rate: 0, kinds: [] });
      return Response.json({ faults, injected });
    }
    if (path === "/__emulator/inbound" && req.method === "POST") {
      const b = await req.json() as {
        phone_number_id: string;
        from: string;
        name?: string;
        text?: string;
        message?: Record<string, unknown>;
      };
      const wamid = newWamid();
      const message = b.message ?? { type: "text", text: { body: b.text ?? "Hello" } };
      const status = await postWebhook(
        "inbound",
        envelope(b.phone_number_id, {
          contacts: [{ profile: { name: b.name ?? "Test User" }, wa_id: b.from }],
          messages: [{
            from: b.from,
            id: wamid,
            timestamp: String(Math.floor(Date.now() / 1000)),
            ...message,
          }],
        }),
      );
      return Response.json({ wamid, status });
    }
    if (path === "/__emulator/media" && req.method === "POST") {
      const id = await storeMedia(
        new Uint8Array(await req.arrayBuffer()),
        req.headers.get("content-type") ?? "application/octet-stream",
      );
      return Response.json({ id });
    }
    const download = /^\/__emulator\/media-download\/([0-9]+)$/.exec(path);
    if (download) {
      if (!authorised(req)) return badToken();
      const item = media.get(download[1]);
      if (!item) return new Response("Not found", { status: 404 });
      return new Response(item.bytes as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": item.mimeType, "content-length": String(item.bytes.length) },
      });
    }
    const sendPath = /^\/v\d+\.\d+\/([0-9]+)\/messages$/.exec(path);
    if (sendPath && req.method === "POST") return await send(req, sendPath[1]);
    const uploadPath = /^\/v\d+\.\d+\/([0-9]+)\/media$/.exec(path);
    if (uploadPath && req.method === "POST") {
      if (!authorised(req, uploadPath[1])) return badToken();
      const form = await req.formData();
      const file = form.get("file");
      if (form.get("messaging_product") !== "whatsapp" || !(file instanceof File)) {
        return graphError(
          400,
          100,
          "(#100) Invalid parameter",
          "file and messaging_product=whatsapp are required",
        );
      }
      return Response.json({
        id: await storeMedia(new Uint8Array(await file.arrayBuffer()), file.type),
      });
    }
    const mediaInfo = /^\/v\d+\.\d+\/([0-9]+)$/.exec(path);
    if (mediaInfo && req.method === "GET") {
      if (!authorised(req)) return badToken();
      const item = media.get(mediaInfo[1]);
      if (!item) {
        return graphError(
          400,
          100,
          "(#100) Invalid parameter",
          "Unsupported get request. Object does not exist.",
        );
      }
      return Response.json({
        messaging_product: "whatsapp",
        url: `${url}/__emulator/media-download/${mediaInfo[1]}`,
        mime_type: item.mimeType,
        sha256: item.sha256,
        file_size: item.bytes.length,
        id: mediaInfo[1],
      });
    }
    return graphError(400, 100, "Unsupported request - method type or path not recognised");
  }

  const server = Deno.serve(
    { hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    handle,
  );
  url = `http://${options.hostname ?? "127.0.0.1"}:${(server.addr as Deno.NetAddr).port}`;
  if (!options.quiet) console.log(`Graph API emulator on ${url}`);
  return Promise.resolve({
    url,
    port: (server.addr as Deno.NetAddr).port,
    messages: () => [...log],
    reads: () => [...reads],
    setFaults,
    clear: () => void (log.length = 0),
    async close() {
      closing.abort();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all([...inflight]);
      await server.shutdown();
    },
  });
}

if (import.meta.main) {
  const HELP = `deno task emulator [options]

The WhatsApp Cloud API emulator on its own (deno task dev starts one for you).

Options:
  --port N            port (default 8790)
  --app-secret S      Meta app secret used to sign webhooks (required with --webhook-url)
  --webhook-url URL   where to post status and inbound webhooks (the app's /webhooks/whatsapp)
  --token PNID=TOKEN  accept TOKEN for phone number id PNID (repeatable; default: any token)
  --fault-rate R      share of send calls that fail (0..1) with a random injected fault
  -h, --help          show this help

Inspect: GET /__emulator/messages (what the app sent; DELETE clears it), GET /__emulator/webhooks
(what was posted to the app).

Simulate a user writing in (the webhook is signed with --app-secret and posted to --webhook-url):
  POST /__emulator/inbound {"phone_number_id", "from", "text"}
  any message type: {"phone_number_id", "from", "message": {"type": "location", "location": {…}}}

Simulate inbound media: upload the file, then send a message that names it:
  POST /__emulator/media   with the file as the body and its Content-Type  → {"id"}
  POST /__emulator/inbound {"phone_number_id", "from",
       "message": {"type": "image", "image": {"id": "<id>", "mime_type": "image/jpeg"}}}
  (also "video", "audio", "document", "sticker"); the app then serves the file to its client at
  GET /v1/media/<id>, fetched from here as from the Graph API.

Faults: POST /__emulator/faults {"rate", "kinds", "limit"}: kinds among the Graph errors and
"hang", "reset", "reset_after_accept"; "limit" ends the outage after that many faults.`;
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        port: { type: "string", default: "8790" },
        "app-secret": { type: "string" },
        "webhook-url": { type: "string" },
        token: { type: "string", multiple: true, default: [] },
        "fault-rate": { type: "string", default: "0" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`emulator: ${(error as Error).message}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (args["webhook-url"] && !args["app-secret"]) {
    console.error("emulator: --webhook-url needs --app-secret to sign webhooks");
    Deno.exit(2);
  }
  const tokens = args.token.length
    ? Object.fromEntries(args.token.map((t) => t.split("=") as [string, string]))
    : undefined;
  const rate = Number(args["fault-rate"]);
  const emulator = await startGraphEmulator({
    port: Number(args.port),
    appSecret: args["app-secret"] ?? "unused",
    webhookUrl: args["webhook-url"],
    tokens,
    faults: rate > 0
      ? {
        rate,
        kinds: ["rate_limit", "server_error", "slow", "hang", "reset", "drop_after_accept"],
      }
      : undefined,
  });
  const stop = async () => {
    await emulator.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
