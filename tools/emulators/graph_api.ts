import { parseArgs } from "node:util";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";

/**
 * WhatsApp Cloud (Graph) API emulator: the local sandbox and the test double for Meta. It speaks
 * the documented protocol (send, mark as read, media, message templates), answers with Graph error
 * envelopes and codes, posts signed status and template webhooks back to the app, simulates users
 * writing in, and injects faults.
 *
 * Templates are kept per WABA, as Meta keeps them: listed with cursor paging, created PENDING and
 * reviewed (APPROVED, or REJECTED for names matching `rejectTemplates`) after a delay, with the
 * signed message_template_status_update webhook; deleted by name (and hsm_id). A template send is
 * checked as Meta checks it: 132001 when the name does not exist in that language (or is not
 * approved), 132015 paused, 132016 disabled, 132000 a body or header parameter count that does
 * not match, 132012 a header of the wrong type, 100 a named parameter without its name.
 * Independent of the app's own check (src/core/whatsapp/templates.ts), so each tests the other.
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

/** A template as the emulator (and Meta's listing) holds it. */
export interface EmulatedTemplate {
  id: string;
  name: string;
  language: string;
  category: string;
  status: string;
  quality_score: { score: string; date?: number };
  parameter_format: "POSITIONAL" | "NAMED";
  // deno-lint-ignore no-explicit-any
  components: Array<Record<string, any>>;
  rejected_reason: string;
}

/** What a seed gives: a name, and whatever else is not the default (approved, en_US, a body). */
export type TemplateSeed = Partial<Omit<EmulatedTemplate, "quality_score">> & {
  name: string;
  quality_score?: string;
};

/** Meta's sample template, the one every new WhatsApp Business account starts with. */
export const HELLO_WORLD: TemplateSeed = {
  name: "hello_world",
  language: "en_US",
  category: "UTILITY",
  components: [
    { type: "HEADER", format: "TEXT", text: "Hello World" },
    {
      type: "BODY",
      text: "Welcome and congratulations!! This message demonstrates your ability to send a " +
        "WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for " +
        "taking the time to test with us.",
    },
    { type: "FOOTER", text: "WhatsApp Business Platform sample message" },
  ],
};

/**
 * The authentication template the privacy workflow sends its one-time codes with
 * (PRIVACY_CODE_TEMPLATE's default), as Meta lists one: Meta writes the text, the code fills the
 * body's variable and the copy-code button's URL.
 */
export const PRIVACY_CODE: TemplateSeed = {
  name: "privacy_verification_code",
  language: "en_US",
  category: "AUTHENTICATION",
  components: [
    {
      type: "BODY",
      text: "*{{1}}* is your verification code. For your security, do not share this code.",
    },
    {
      type: "BUTTONS",
      buttons: [{
        type: "URL",
        text: "Copy code",
        url: "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}",
      }],
    },
  ],
};

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
  /** templates each WABA starts with, by WABA id */
  templates?: Record<string, TemplateSeed[]>;
  /** how long a new template stays PENDING before its review (default 3 s) */
  templateReviewMs?: number;
  /** new templates whose name matches are REJECTED at review (default: names starting "reject") */
  rejectTemplates?: RegExp;
}

const TEMPLATE_PAGE_DEFAULT = 25;
const TEMPLATE_PAGE_MAX = 250;

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

const VARIABLE = /\{\{([^{}]+)\}\}/g;
const variables = (
  text: unknown,
) => [...new Set([...String(text ?? "").matchAll(VARIABLE)].map((m) => m[1]))];

/** Meta's answer to a template send that does not fit the WABA's templates, or null. */
function templateSendProblem(list: EmulatedTemplate[], body: SendBody): Response | null {
  const { name, language, components = [] } = body.template;
  const code = language.code;
  const t = list.find((x) => x.name === name && x.language === code);
  if (!t || !["APPROVED", "PAUSED", "DISABLED"].includes(t.status)) {
    return graphError(
      404,
      132001,
      "(#132001) Template name does not exist in the translation",
      `template name (${name}) does not exist in ${code}`,
    );
  }
  if (t.status === "PAUSED") {
    return graphError(
      400,
      132015,
      "(#132015) Template is Paused",
      "Template is paused due to low quality so it cannot be sent in a template message",
    );
  }
  if (t.status === "DISABLED") {
    return graphError(
      400,
      132016,
      "(#132016) Template is disabled",
      "Template is disabled due to low quality so it cannot be sent in a template message",
    );
  }
  const given = (type: string) =>
    // deno-lint-ignore no-explicit-any
    (components as any[]).find((c) => c?.type === type)?.parameters ?? [];
  for (const part of ["header", "body"] as const) {
    const def = t.components.find((c) => c.type === part.toUpperCase());
    const params = given(part);
    if (part === "header" && def && def.format && def.format !== "TEXT") {
      const want = String(def.format).toLowerCase();
      if (params.length !== 1 || params[0]?.type !== want) {
        return graphError(
          400,
          132012,
          "(#132012) Parameter format does not match format in the created template",
          `header: Format mismatch, expected ${def.format}, received ${
            String(params[0]?.type ?? "UNKNOWN").toUpperCase()
          }`,
        );
      }
      continue;
    }
    const expected = def ? variables(def.text).length : 0;
    if (params.length !== expected) {
      return graphError(
        400,
        132000,
        "(#132000) Number of parameters does not match the expected number of params",
        `${part}: number of localizable_params (${params.length}) does not match the expected number of params (${expected})`,
      );
    }
    // deno-lint-ignore no-explicit-any
    if (t.parameter_format === "NAMED" && params.some((p: any) => !p?.parameter_name)) {
      return graphError(400, 100, "(#100) Invalid parameter", "Parameter name is missing or empty");
    }
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
  /** templates by WABA id, in creation order (the listing's order) */
  const templates = new Map<string, EmulatedTemplate[]>();
  const templateCalls: Array<{ method: string; wabaId: string; at: string }> = [];
  const reviewMs = options.templateReviewMs ?? 3000;
  const rejectTemplates = options.rejectTemplates ?? /^reject/;
  let nextTemplateId = 1_000_000_000_000_000 + Math.floor(Math.random() * 1e12);

  const templatesOf = (wabaId: string) => {
    let list = templates.get(wabaId);
    if (!list) templates.set(wabaId, list = []);
    return list;
  };
  const seedTemplate = (wabaId: string, seed: TemplateSeed): EmulatedTemplate => {
    const list = templatesOf(wabaId);
    const language = seed.language ?? "en_US";
    const existing = list.findIndex((t) => t.name === seed.name && t.language === language);
    const t: EmulatedTemplate = {
      id: seed.id ?? String(nextTemplateId++),
      name: seed.name,
      language,
      category: seed.category ?? "UTILITY",
      status: seed.status ?? "APPROVED",
      quality_score: { score: seed.quality_score ?? "UNKNOWN" },
      parameter_format: seed.parameter_format ?? "POSITIONAL",
      components: seed.components ?? [{ type: "BODY", text: `Message ${seed.name}` }],
      rejected_reason: seed.rejected_reason ?? "NONE",
    };
    if (existing >= 0) list[existing] = t;
    else list.push(t);
    return t;
  };
  for (const [wabaId, seeds] of Object.entries(options.templates ?? {})) {
    for (const seed of seeds) seedTemplate(wabaId, seed);
  }

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

  /**
   * A template webhook, as Meta posts it to the app's default callback URL. Meta's `time` is in
   * seconds, so two changes back and forth within one second (approved, paused, approved) would
   * post the same bytes twice, which a receiver deduplicating by body takes for a retry: here each
   * template webhook gets a later time than the one before.
   */
  let lastTemplateTime = 0;
  function templateWebhook(wabaId: string, field: string, value: Record<string, unknown>) {
    lastTemplateTime = Math.max(lastTemplateTime + 1, Math.floor(Date.now() / 1000));
    return postWebhook(`template:${field}`, {
      object: "whatsapp_business_account",
      entry: [{
        id: wabaId,
        time: lastTemplateTime,
        changes: [{ field, value }],
      }],
    });
  }

  const templateRef = (t: EmulatedTemplate) => ({
    // Meta sends the id as a number
    message_template_id: Number(t.id),
    message_template_name: t.name,
    message_template_language: t.language,
  });

  /** Moves a template to `status` (or a new quality score) and tells the app, as Meta does. */
  async function changeTemplate(
    wabaId: string,
    t: EmulatedTemplate,
    change: { status?: string; quality?: string; reason?: string },
  ) {
    if (change.status) {
      t.status = change.status;
      t.rejected_reason = change.status === "REJECTED" ? change.reason ?? "INVALID_FORMAT" : "NONE";
      await templateWebhook(wabaId, "message_template_status_update", {
        event: change.status,
        ...templateRef(t),
        reason: change.status === "REJECTED" ? t.rejected_reason : change.reason ?? "NONE",
        message_template_category: t.category,
        ...(change.status === "DISABLED"
          ? { disable_info: { disable_date: Math.floor(Date.now() / 1000) } }
          : {}),
      });
    }
    if (change.quality) {
      const previous = t.quality_score.score;
      t.quality_score = { score: change.quality, date: Math.floor(Date.now() / 1000) };
      await templateWebhook(wabaId, "message_template_quality_update", {
        previous_quality_score: previous,
        new_quality_score: change.quality,
        ...templateRef(t),
      });
    }
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
    const invalid = validate(body) ??
      (body.type === "template"
        ? templateSendProblem(templatesOf(wabaFor(phoneNumberId)), body)
        : null);
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

  function listTemplates(wabaId: string, query: URLSearchParams): Response {
    const limit = Math.min(
      TEMPLATE_PAGE_MAX,
      Math.max(1, Number(query.get("limit")) || TEMPLATE_PAGE_DEFAULT),
    );
    const list = templatesOf(wabaId).filter((t) =>
      (!query.get("name") || t.name === query.get("name")) &&
      (!query.get("status") || t.status === query.get("status")) &&
      (!query.get("language") || t.language === query.get("language"))
    );
    // cursors are opaque to callers; here they are positions in creation order
    const after = query.get("after");
    let start = 0;
    try {
      start = after ? Number(atob(after)) : 0;
    } catch {
      start = NaN;
    }
    if (!Number.isInteger(start) || start < 0) {
      return graphError(400, 100, "(#100) Invalid parameter", "Invalid cursor");
    }
    const page = list.slice(start, start + limit);
    const end = start + page.length;
    const cursor = (n: number) => btoa(String(n));
    const more = end < list.length;
    return Response.json({
      data: page,
      paging: {
        cursors: { before: cursor(start), after: cursor(end) },
        ...(more
          ? { next: `${url}/v24.0/${wabaId}/message_templates?limit=${limit}&after=${cursor(end)}` }
          : {}),
      },
    });
  }

  async function createTemplate(wabaId: string, req: Request): Promise<Response> {
    // deno-lint-ignore no-explicit-any
    let body: Record<string, any>;
    try {
      body = await req.json();
    } catch {
      return graphError(400, 100, "(#100) Invalid parameter", "The request body is not valid JSON");
    }
    const { name, language, category, components } = body;
    if (typeof name !== "string" || !/^[a-z0-9_]{1,512}$/.test(name)) {
      return graphError(
        400,
        100,
        "(#100) Invalid parameter",
        "name must be lowercase letters, digits and underscores",
      );
    }
    if (typeof language !== "string" || !language) {
      return graphError(400, 100, "(#100) Invalid parameter", "language is required");
    }
    if (!["MARKETING", "UTILITY", "AUTHENTICATION"].includes(category)) {
      return graphError(
        400,
        100,
        "(#100) Invalid parameter",
        "category must be MARKETING, UTILITY or AUTHENTICATION",
      );
    }
    if (!Array.isArray(components) || !components.some((c) => c?.type === "BODY")) {
      return graphError(400, 100, "(#100) Invalid parameter", "components must hold a BODY");
    }
    if (templatesOf(wabaId).some((t) => t.name === name && t.language === language)) {
      return graphError(
        400,
        100,
        "(#100) Invalid parameter",
        `Message template "${name}" with language "${language}" already exists`,
      );
    }
    const t = seedTemplate(wabaId, {
      name,
      language,
      category,
      status: "PENDING",
      parameter_format: body.parameter_format === "NAMED" ? "NAMED" : "POSITIONAL",
      components,
    });
    later(reviewMs, () =>
      changeTemplate(wabaId, t, {
        status: rejectTemplates.test(t.name) ? "REJECTED" : "APPROVED",
        reason: rejectTemplates.test(t.name) ? "INVALID_FORMAT" : undefined,
      }));
    return Response.json({ id: t.id, status: t.status, category: t.category });
  }

  function deleteTemplate(wabaId: string, query: URLSearchParams): Response {
    const name = query.get("name");
    const hsmId = query.get("hsm_id");
    const list = templatesOf(wabaId);
    const doomed = list.filter((t) => t.name === name && (!hsmId || t.id === hsmId));
    if (!name || !doomed.length) {
      return graphError(
        400,
        100,
        "(#100) Invalid parameter",
        `Template name (${name}) does not exist`,
      );
    }
    templates.set(wabaId, list.filter((t) => !doomed.includes(t)));
    return Response.json({ success: true });
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
    if (path === "/__emulator/templates") {
      if (req.method === "POST") {
        const b = await req.json() as { waba_id: string; templates: TemplateSeed[] };
        const seeded = b.templates.map((t) => seedTemplate(b.waba_id, t));
        return Response.json({ data: seeded });
      }
      const waba = u.searchParams.get("waba_id");
      return Response.json({
        data: waba ? templatesOf(waba) : Object.fromEntries(templates),
        calls: templateCalls,
      });
    }
    if (path === "/__emulator/templates/status" && req.method === "POST") {
      const b = await req.json() as {
        waba_id: string;
        name: string;
        language?: string;
        status?: string;
        quality?: string;
        reason?: string;
      };
      const t = templatesOf(b.waba_id).find((x) =>
        x.name === b.name && x.language === (b.language ?? "en_US")
      );
      if (!t) return Response.json({ error: "no such template" }, { status: 404 });
      await changeTemplate(b.waba_id, t, b);
      return Response.json({ template: t });
    }
    const templatesPath = /^\/v\d+\.\d+\/([0-9]+)\/message_templates$/.exec(path);
    if (templatesPath) {
      if (!authorised(req)) return badToken();
      const wabaId = templatesPath[1];
      templateCalls.push({ method: req.method, wabaId, at: new Date().toISOString() });
      if (req.method === "GET") return listTemplates(wabaId, u.searchParams);
      if (req.method === "POST") return await createTemplate(wabaId, req);
      if (req.method === "DELETE") return deleteTemplate(wabaId, u.searchParams);
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
    /** the WABA's templates now, as the listing would give them */
    templates: (wabaId: string) => [...templatesOf(wabaId)],
    /** every call to a message_templates endpoint (list, create, delete), in order */
    templateCalls: () => [...templateCalls],
    seedTemplates: (wabaId: string, seeds: TemplateSeed[]) =>
      seeds.map((s) => seedTemplate(wabaId, s)),
    /** deletes every language of a template, as WhatsApp Manager would (no webhook) */
    deleteTemplate: (wabaId: string, name: string) =>
      void templates.set(wabaId, templatesOf(wabaId).filter((t) => t.name !== name)),
    /** moves a template (status and/or quality) and posts Meta's webhook for it */
    changeTemplate: async (
      wabaId: string,
      name: string,
      language: string,
      change: { status?: string; quality?: string; reason?: string },
    ) => {
      const t = templatesOf(wabaId).find((x) => x.name === name && x.language === language);
      if (!t) throw new Error(`No template ${name} ${language} in ${wabaId}`);
      await changeTemplate(wabaId, t, change);
      return t;
    },
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
  --waba-id W         the WABA every phone number belongs to (default 102290129340398); it
                      starts with Meta's sample template hello_world (en_US)
  --template-review-ms N
                      how long a new template stays PENDING before its review (default 3000)
  --reject-templates RE
                      new templates whose name matches RE are REJECTED (default ^reject)
  -h, --help          show this help

Templates: GET/POST/DELETE /{version}/{waba_id}/message_templates as Meta's API (cursor paging,
created PENDING, reviewed after the delay with a signed message_template_status_update webhook);
template sends get Meta's errors (132001 no such name in that language or not approved, 132000
parameter count, 132012 header type, 132015 paused, 132016 disabled).

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
"hang", "reset", "reset_after_accept"; "limit" ends the outage after that many faults.

Templates: GET /__emulator/templates?waba_id=W (with every template API call) · seed:
POST /__emulator/templates {"waba_id", "templates": [{"name", "language", "components", ...}]}
· move one and send Meta's webhook: POST /__emulator/templates/status {"waba_id", "name",
"language", "status": "PAUSED" | "APPROVED" | "DISABLED" | …, "quality": "RED" | …, "reason"}`;
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
        "waba-id": { type: "string", default: "102290129340398" },
        "template-review-ms": { type: "string", default: "3000" },
        "reject-templates": { type: "string", default: "^reject" },
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
  const reviewMs = Number(args["template-review-ms"]);
  if (!Number.isInteger(reviewMs) || reviewMs < 0) {
    console.error("emulator: --template-review-ms must be a whole number of milliseconds");
    Deno.exit(2);
  }
  let rejectTemplates: RegExp;
  try {
    rejectTemplates = new RegExp(args["reject-templates"]);
  } catch {
    console.error("emulator: --reject-templates is not a valid regular expression");
    Deno.exit(2);
  }
  const wabaId = args["waba-id"];
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
    wabaIdFor: () => wabaId,
    templates: { [wabaId]: [HELLO_WORLD] },
    templateReviewMs: reviewMs,
    rejectTemplates,
  });
  const stop = async () => {
    await emulator.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
