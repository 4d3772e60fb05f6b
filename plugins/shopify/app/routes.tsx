/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { PluginContext, PluginRoute, PluginRouteHost } from "../../../src/plugin_api/mod.ts";
import { exchangeSessionToken, hasToken, subscribeWebhooks } from "../admin.ts";
import {
  type Config,
  type Notification,
  NOTIFICATIONS,
  type Parameter,
  PARAMETERS,
  SHOP_DOMAIN,
} from "../config.ts";
import { parameterValue } from "../notify.ts";
import type { OrderInfo } from "../payloads.ts";
import { normalisePhone } from "../phones.ts";
import { linkCode, verifySessionToken } from "../session.ts";
import type { ShopState } from "../topics.ts";
import { PROPOSALS } from "../templates.ts";
import { configured, ENV, NOT_CONFIGURED, secretsOf } from "../webhook.ts";
import {
  APP_BRIDGE,
  LinkPage,
  type Notice,
  REASONS,
  Refused,
  SettingsPage,
  STYLESHEET,
  type TemplatesView,
} from "./page.tsx";

/**
 * The merchant page, `/plugins/shopify/app`, embedded in the Shopify admin. Shopify opens it with
 * a session token (`id_token` in the URL, or `Authorization: Bearer` from App Bridge): that token
 * authenticates the staff member and, on the first visit (and after a reinstall), is exchanged for
 * the shop's offline token (Shopify-managed install), after which the shop's webhooks are
 * subscribed. The forms post back with a page token the page was rendered with: signed by the
 * installation's signer for this shop and user, living an hour, it stands in for the one-minute
 * session token and makes a forged cross-site post worthless.
 */

type Ctx = PluginContext<Config>;
const PAGE_TOKEN_MS = 3_600_000;
const RECENT = 50;
/** templates listed for the picker: five pages of 200, more than a WABA is likely to hold */
const MAX_TEMPLATE_PAGES = 5;
const MAX_FIELD = 600;

function policy(shop: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${new URL(APP_BRIDGE).origin}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    // the shop's admin frames the app (https://shopify.dev/docs/apps/build/security/set-up-iframe-protection)
    `frame-ancestors https://${shop} https://admin.shopify.com`,
  ].join("; ");
}

async function html(node: unknown, status = 200, shop?: string): Promise<Response> {
  const body = "<!doctype html>" + await (node as { toString(): string | Promise<string> })
    .toString();
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      ...(shop ? { "content-security-policy": policy(shop) } : {}),
    },
  });
}

const apiKeyOf = (host: PluginRouteHost) => host.env.get(ENV.apiKey) ?? "";

function bearer(request: Request): string | null {
  const auth = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S{1,4096})$/i.exec(auth);
  return match ? match[1] : null;
}

async function pageToken(ctx: Ctx, shop: string, userId: string) {
  return await ctx.signer.sign(
    `page:${shop}`,
    JSON.stringify({ u: userId.slice(0, 100), e: Date.now() + PAGE_TOKEN_MS }),
  );
}

/** The staff member a page token was issued to, or null when it is not a live one for this shop. */
async function openPageToken(ctx: Ctx, shop: string, token: unknown): Promise<string | null> {
  if (typeof token !== "string" || token.length > 1024) return null;
  const opened = await ctx.signer.open(`page:${shop}`, token);
  if (!opened) return null;
  try {
    const { u, e } = JSON.parse(opened) as { u?: unknown; e?: unknown };
    return typeof u === "string" && typeof e === "number" && e > Date.now() ? u : null;
  } catch {
    return null;
  }
}

function webhooksUri(request: Request, host: PluginRouteHost): string {
  const base = host.env.get(ENV.publicBaseUrl) ?? new URL(request.url).origin;
  return `${base.replace(/\/+$/, "")}/webhooks/shopify`;
}

/**
 * Managed install: no offline token yet (a first visit, or a reinstall after app/uninstalled),
 * so this session token is exchanged for one and the shop's webhooks are subscribed.
 */
async function ensureInstalled(
  ctx: Ctx,
  shop: string,
  sessionToken: string,
  uri: string,
): Promise<Notice | null> {
  const state = await ctx.state.get<ShopState>("shop");
  if (state?.status === "active" && await hasToken(ctx)) return null;
  try {
    await exchangeSessionToken(ctx, shop, sessionToken);
    await subscribeWebhooks(ctx, shop, uri);
  } catch (error) {
    ctx.logger.warn("shopify_install_failed", { message: (error as Error).message });
    return {
      tone: "error",
      text: `Could not connect to the shop yet: ${(error as Error).message}. Reload to try again.`,
    };
  }
  await ctx.state.set(
    "shop",
    {
      status: "active",
      installed_at: new Date().toISOString(),
      webhooks_uri: uri,
    } satisfies ShopState,
  );
  ctx.logger.info("shopify_installed");
  return { tone: "ok", text: "Connected: order notifications are on." };
}

const KINDS = [
  ...NOTIFICATIONS,
  "cod_answer",
  ...NOTIFICATIONS.map((n) => `test:${n}`),
];

/**
 * The client's templates as the page shows them: the approved ones to pick from, each configured
 * template checked as the notification would send it (the core's check: missing, not approved,
 * paused, or variables that do not fit the parameter mapping), and each proposal's review state.
 * A listing that fails leaves the picker with the configured templates and their warnings.
 */
async function templatesView(ctx: Ctx, config: Config): Promise<TemplatesView> {
  const all: Awaited<ReturnType<Ctx["templates"]["list"]>> = [];
  let unavailable = false;
  try {
    for (let page = 0; page < MAX_TEMPLATE_PAGES; page++) {
      const got = await ctx.templates.list({
        limit: 200,
        ...(all.length ? { after: all.at(-1) } : {}),
      });
      all.push(...got);
      if (got.length < 200) break;
    }
  } catch (error) {
    unavailable = true;
    ctx.logger.warn("shopify_templates_unavailable", { message: (error as Error).message });
  }
  const warnings: TemplatesView["warnings"] = {};
  await Promise.all(NOTIFICATIONS.map(async (n) => {
    const s = config.notifications[n];
    try {
      const verdict = await ctx.templates.check({
        name: s.template,
        language: s.language,
        components: [{
          type: "body",
          parameters: s.parameters.map((name) => ({
            type: "text",
            text: parameterValue(name, SAMPLE, SAMPLE_EXTRA),
          })),
        }],
      });
      if (!verdict.ok) warnings[n] = { reason: verdict.reason, message: verdict.message };
    } catch (error) {
      ctx.logger.warn("shopify_template_check_failed", { message: (error as Error).message });
    }
  }));
  const proposals = Object.fromEntries(NOTIFICATIONS.map((n) => {
    const { name, language } = PROPOSALS[n];
    const found = all.find((t) => t.name === name && t.language === language);
    return [n, {
      name,
      language,
      status: found?.status ?? null,
      rejectedReason: found?.rejectedReason ?? null,
    }];
  })) as TemplatesView["proposals"];
  return {
    approved: all.filter((t) => t.status === "APPROVED").map((t) => ({
      name: t.name,
      language: t.language,
      variables: t.parameters ? t.parameters.body.length : null,
    })),
    warnings,
    proposals,
    unavailable,
  };
}

async function settingsPage(
  host: PluginRouteHost,
  ctx: Ctx,
  shop: string,
  userId: string,
  options: { config?: Config; notice?: Notice | null; status?: number } = {},
) {
  const [recent, days, connected, templates] = await Promise.all([
    ctx.journal.recent({ kinds: KINDS, limit: RECENT }),
    ctx.journal.summary({ kinds: NOTIFICATIONS, days: 30 }),
    hasToken(ctx),
    templatesView(ctx, options.config ?? ctx.config),
  ]);
  return await html(
    <SettingsPage
      apiKey={apiKeyOf(host)}
      shop={shop}
      pageToken={await pageToken(ctx, shop, userId)}
      config={options.config ?? ctx.config}
      connected={connected}
      notice={options.notice}
      recent={recent}
      days={days}
      templates={templates}
    />,
    options.status ?? 200,
    shop,
  );
}

async function showApp(request: Request, host: PluginRouteHost): Promise<Response> {
  if (!configured(host.env)) {
    return new Response(`Not available: ${NOT_CONFIGURED}`, {
      status: 503,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  const url = new URL(request.url);
  const token = url.searchParams.get("id_token") ?? bearer(request);
  const session = await verifySessionToken(token, {
    apiKey: apiKeyOf(host),
    secrets: secretsOf(host.env),
  });
  if (!session) return await html(<Refused apiKey={apiKeyOf(host)} />, 401);
  const ctx = await host.installation(session.shop) as Ctx | null;
  if (!ctx) {
    const code = await linkCode(secretsOf(host.env)[0], session.shop);
    return await html(
      <LinkPage apiKey={apiKeyOf(host)} shop={session.shop} code={code} />,
      200,
      session.shop,
    );
  }
  const notice = await ensureInstalled(ctx, session.shop, token!, webhooksUri(request, host));
  return await settingsPage(host, ctx, session.shop, session.userId, { notice });
}

type Posted =
  | { refused: Response }
  | {
    ctx: Ctx;
    shop: string;
    userId: string;
    field: (name: string) => string | null;
    form: FormData;
  };

/** A posted form of the page: its shop's installation and the staff member, or a refusal. */
async function posted(request: Request, host: PluginRouteHost): Promise<Posted> {
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return { refused: await html(<Refused apiKey={apiKeyOf(host)} />, 400) };
  }
  const field = (name: string) => {
    const v = form.get(name);
    return typeof v === "string" ? v.slice(0, MAX_FIELD) : null;
  };
  const shop = (field("shop") ?? "").toLowerCase();
  const ctx = SHOP_DOMAIN.test(shop) ? await host.installation(shop) as Ctx | null : null;
  const userId = ctx ? await openPageToken(ctx, shop, form.get("page_token")) : null;
  if (!ctx || !userId) return { refused: await html(<Refused apiKey={apiKeyOf(host)} />, 401) };
  return { ctx, shop, userId, field, form };
}

function parameterList(text: string | null): Parameter[] | string {
  const names = (text ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PARAMETERS as readonly string[]).includes(n));
  return unknown.length ? `unknown parameter ${unknown[0]}` : names as Parameter[];
}

async function saveSettings(request: Request, host: PluginRouteHost): Promise<Response> {
  const p = await posted(request, host);
  if ("refused" in p) return p.refused;
  const { ctx, shop, userId, field, form } = p;
  const next = structuredClone(ctx.config) as Config;
  const problems: string[] = [];
  for (const n of NOTIFICATIONS) {
    const s = next.notifications[n];
    s.enabled = form.has(`${n}.enabled`);
    // the picker posts `name|language`; a form without it may post both fields apart
    const [template, language] = (field(`${n}.template`) ?? s.template).trim().split("|", 2);
    s.template = template.trim();
    s.language = (language ?? field(`${n}.language`) ?? s.language).trim();
    // a field the form did not post leaves the setting as it was (an empty one clears it)
    const posted = field(`${n}.parameters`);
    const parameters = posted === null ? s.parameters : parameterList(posted);
    if (typeof parameters === "string") problems.push(`${n}: ${parameters}`);
    else s.parameters = parameters;
  }
  if (!problems.length) {
    try {
      await ctx.saveConfig(next, { onBehalfOf: `shopify:${shop}:user:${userId}` });
      return await settingsPage(host, ctx, shop, userId, {
        config: next,
        notice: { tone: "ok", text: "Saved." },
      });
    } catch (error) {
      problems.push((error as Error).message.replace(/^The config does not fit [^:]+: /, ""));
    }
  }
  return await settingsPage(host, ctx, shop, userId, {
    config: next,
    notice: { tone: "error", text: `Not saved: ${problems.join("; ").slice(0, 500)}` },
    status: 400,
  });
}

/** What a test message's parameters are filled with. */
const SAMPLE: OrderInfo = {
  id: "1001",
  name: "#TEST-1001",
  firstName: "Asha",
  fullName: "Asha Kumar",
  phones: { order: null, shipping: null, customer: null, billing: null },
  countries: { shipping: null, billing: null, customer: null },
  locale: "en",
  currency: "INR",
  total: "1499.00",
  financialStatus: "pending",
  gateways: [],
  cancelled: false,
  attributes: [],
  items: [{ title: "Cotton kurta", quantity: 1 }],
  statusUrl: "https://example.com/orders/status",
};

const SAMPLE_EXTRA = {
  trackingCompany: "Delhivery",
  trackingNumber: "TEST123456",
  trackingUrl: "https://example.com/track/TEST123456",
  refundAmount: "499.00",
};

/** Submits the proposed template of a notification to Meta for review (one click on the page). */
async function submitTemplate(request: Request, host: PluginRouteHost): Promise<Response> {
  const p = await posted(request, host);
  if ("refused" in p) return p.refused;
  const { ctx, shop, userId, field } = p;
  const kind = field("notification") as Notification;
  if (!(NOTIFICATIONS as readonly string[]).includes(kind)) {
    return await settingsPage(host, ctx, shop, userId, {
      notice: { tone: "error", text: "Choose a notification" },
      status: 400,
    });
  }
  const proposal = PROPOSALS[kind];
  const result = await ctx.templates.submit(proposal);
  if (result.submitted) {
    ctx.logger.info("shopify_template_submitted", { kind });
    return await settingsPage(host, ctx, shop, userId, {
      notice: {
        tone: "ok",
        text: `Submitted ${proposal.name} (${proposal.language}) to Meta: ${
          result.template.status === "APPROVED" ? "approved" : "pending review"
        }.`,
      },
    });
  }
  ctx.logger.warn("shopify_template_refused", { kind, reason: result.reason });
  return await settingsPage(host, ctx, shop, userId, {
    notice: {
      tone: "error",
      text: `Not submitted (${result.reason}): ${result.message}`.slice(0, 500),
    },
    status: result.reason === "template_exists" ? 409 : 422,
  });
}

async function sendTest(request: Request, host: PluginRouteHost): Promise<Response> {
  const p = await posted(request, host);
  if ("refused" in p) return p.refused;
  const { ctx, shop, userId, field } = p;
  const kind = field("notification") as Notification;
  const fail = (text: string) =>
    settingsPage(host, ctx, shop, userId, { notice: { tone: "error", text }, status: 400 });
  if (!(NOTIFICATIONS as readonly string[]).includes(kind)) {
    return await fail("Choose a notification");
  }
  const e164 = normalisePhone(field("phone") ?? "", ctx.config.default_country ?? null);
  if (!e164) return await fail("That is not a phone number WhatsApp can reach");
  const settings = ctx.config.notifications[kind];
  const extra = SAMPLE_EXTRA;
  const key = `test:${crypto.randomUUID()}`;
  await ctx.journal.claim(key, {
    kind: `test:${kind}`,
    subject: "Test message",
    recipient: e164,
    data: { by: userId.slice(0, 100) },
  });
  const sent = await ctx.send({
    to: e164,
    key,
    template: {
      name: settings.template,
      language: settings.language,
      components: [{
        type: "body",
        parameters: settings.parameters.map((name) => ({
          type: "text",
          text: parameterValue(name, SAMPLE, extra),
        })),
      }],
    },
  });
  if (sent.sent) {
    await ctx.journal.settle(key, { outcome: "sent", messageId: sent.messageId });
    return await settingsPage(host, ctx, shop, userId, {
      notice: { tone: "ok", text: `Test message queued to ${e164}.` },
    });
  }
  const reason = sent.reason === "contact_opted_out" ? "opted_out" : sent.reason;
  await ctx.journal.settle(key, { outcome: "suppressed", reason });
  return await fail(`Not sent: ${REASONS[reason] ?? reason}`);
}

export const appRoutes: PluginRoute[] = [
  { method: "GET", path: "/app", handler: showApp },
  { method: "POST", path: "/app/settings", handler: saveSettings },
  { method: "POST", path: "/app/test", handler: sendTest },
  { method: "POST", path: "/app/templates", handler: submitTemplate },
  {
    method: "GET",
    path: "/app/style",
    handler: () =>
      Promise.resolve(
        new Response(STYLESHEET, {
          headers: {
            "content-type": "text/css; charset=utf-8",
            "cache-control": "public, max-age=300",
          },
        }),
      ),
  },
];
