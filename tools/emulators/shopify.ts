import { parseArgs } from "node:util";
import { jwtVerify, SignJWT } from "jose";

/**
 * Shopify emulator: the local sandbox and the test double for a Shopify store and the app's side
 * of Shopify. It speaks the documented protocol the Shopify plugin uses and nothing else:
 * - signed webhooks (`X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body under the app's
 *   client secret, with the `X-Shopify-*` headers) of every topic the plugin handles, to the
 *   shop's subscriptions and to the app-level address (what shopify.app.toml declares, and the
 *   compliance topics); redelivery of a delivery as it was, or under a new webhook id;
 * - token exchange (a session token for an expiring offline token) and refresh, at
 *   `POST /admin/oauth/access_token`;
 * - Admin GraphQL (`POST /admin/api/<version>/graphql.json`) for the calls the plugin makes:
 *   `order`, `tagsAdd`, `orderCancel` (which fires orders/cancelled), `webhookSubscriptionCreate`
 *   and `webhookSubscriptions`, recognised by their operation, with Shopify's answers and errors;
 * - session tokens as App Bridge hands them to the app, for the merchant page;
 * - inspection (`/__emulator/...`): orders with their tags, every Admin call, every delivery.
 * One emulator serves any number of shops; a token or a session token names its shop.
 */

export const ADMIN_TOPICS = [
  "orders/create",
  "orders/cancelled",
  "fulfillments/create",
  "fulfillments/update",
  "fulfillment_events/create",
  "refunds/create",
  "app/uninstalled",
] as const;
export const COMPLIANCE_TOPICS = ["customers/data_request", "customers/redact", "shop/redact"];

const ENUM_TOPIC = (topic: string) => topic.replace("/", "_").toUpperCase();
const TOPIC_OF = Object.fromEntries(ADMIN_TOPICS.map((t) => [ENUM_TOPIC(t), t]));

export interface ShopifyEmulatorOptions {
  port?: number;
  hostname?: string;
  apiKey: string;
  apiSecret: string;
  /** the app's base URL: app-level webhooks go to `<appUrl>/webhooks/shopify` */
  appUrl?: string;
  /** deliver every admin topic to the app-level address too, as shopify.app.toml subscriptions
   * would (default true); compliance topics always go there */
  appLevelTopics?: boolean;
  /** Shopify retries a failed delivery 8 times over 4 hours; here: this many more, 100 ms apart */
  retries?: number;
  /**
   * A file the shops (orders, subscriptions) and tokens are kept in, as Shopify keeps them: a
   * restarted local stack finds its shop connected and its token still valid
   */
  stateFile?: string;
  quiet?: boolean;
}

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

interface Subscription {
  id: string;
  topic: string;
  uri: string;
}

interface ShopData {
  orders: Map<string, Json>;
  subscriptions: Subscription[];
  nextOrder: number;
}

interface Delivery {
  webhookId: string;
  eventId: string;
  topic: string;
  shop: string;
  uri: string;
  status: number | null;
  at: string;
  triggeredAt: string;
  body: string;
  headers: Record<string, string>;
}

interface AdminCall {
  shop: string;
  operation: string;
  variables: Json;
  at: string;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const random = (n = 24) =>
  crypto.getRandomValues(new Uint8Array(n)).toBase64({ alphabet: "base64url", omitPadding: true });

/** `X-Shopify-Hmac-Sha256` of a body: base64 HMAC-SHA256 under the client secret. */
export async function shopifyHmac(secret: string, body: string | Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  return b64(
    new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>)),
  );
}

/** A session token as App Bridge hands it to an embedded app (HS256, one minute). */
export async function sessionToken(options: {
  apiKey: string;
  apiSecret: string;
  shop: string;
  userId?: string;
  expiresInSeconds?: number;
  now?: number;
}): Promise<string> {
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  return await new SignJWT({
    dest: `https://${options.shop}`,
    sid: crypto.randomUUID(),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(`https://${options.shop}/admin`)
    .setAudience(options.apiKey)
    .setSubject(options.userId ?? "42")
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? 60))
    .sign(new TextEncoder().encode(options.apiSecret));
}

function merge(base: Json, patch: Json | undefined): Json {
  if (!patch) return base;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && base[k] &&
        typeof base[k] === "object" && !Array.isArray(base[k])
      ? merge(base[k], v)
      : v;
  }
  return out;
}

/** An order as Shopify's REST-shaped webhooks carry it (API version 2026-07), from a few inputs. */
function buildOrder(shop: string, id: number, number: number, input: Json = {}): Json {
  const now = new Date().toISOString();
  const country = input.country ?? "IN";
  const phone = input.phone ?? null;
  const cod = input.cod ?? false;
  const currency = input.currency ?? (country === "IN" ? "INR" : "USD");
  const address = {
    first_name: "Asha",
    last_name: "Kumar",
    address1: "12 MG Road",
    city: "Kochi",
    zip: "682001",
    province: "Kerala",
    country: country === "IN" ? "India" : country,
    country_code: country,
    phone,
  };
  const order: Json = {
    id,
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${number}`,
    order_number: number,
    email: "asha@example.com",
    phone: null,
    created_at: now,
    updated_at: now,
    currency,
    presentment_currency: currency,
    total_price: input.total ?? "1499.00",
    current_total_price: input.total ?? "1499.00",
    financial_status: cod ? "pending" : "paid",
    payment_gateway_names: cod ? ["Cash on Delivery (COD)"] : ["shopify_payments"],
    customer_locale: input.locale ?? (country === "IN" ? "en-IN" : "en"),
    note_attributes: input.opt_in ? [{ name: "whatsapp_opt_in", value: "true" }] : [],
    customer: {
      id: id + 7,
      email: "asha@example.com",
      first_name: "Asha",
      last_name: "Kumar",
      phone: null,
      default_address: { country_code: country },
    },
    shipping_address: address,
    billing_address: { ...address, phone: null },
    line_items: [{ id: id + 1, title: "Cotton kurta", quantity: 1, price: "1499.00" }],
    order_status_url: `https://${shop}/orders/${random(8)}/authenticate?key=${random(8)}`,
    cancelled_at: null,
    cancel_reason: null,
    fulfillment_status: null,
    tags: "",
    test: true,
  };
  return merge(order, input.order);
}

/** The GraphQL `order` the plugin queries, from the stored REST-shaped order. */
function graphqlOrder(o: Json): Json {
  const address = (a: Json | null) =>
    a
      ? { firstName: a.first_name ?? null, phone: a.phone ?? null, countryCodeV2: a.country_code }
      : null;
  return {
    legacyResourceId: String(o.id),
    name: o.name,
    phone: o.phone,
    customerLocale: o.customer_locale,
    currencyCode: o.currency,
    presentmentCurrencyCode: o.presentment_currency,
    displayFinancialStatus: String(o.financial_status ?? "").toUpperCase(),
    paymentGatewayNames: o.payment_gateway_names,
    cancelledAt: o.cancelled_at,
    statusPageUrl: o.order_status_url,
    totalPriceSet: {
      presentmentMoney: { amount: o.current_total_price, currencyCode: o.presentment_currency },
    },
    customAttributes: (o.note_attributes ?? []).map((a: Json) => ({ key: a.name, value: a.value })),
    customer: o.customer
      ? {
        firstName: o.customer.first_name,
        lastName: o.customer.last_name,
        defaultPhoneNumber: o.customer.phone ? { phoneNumber: o.customer.phone } : null,
        defaultAddress: { countryCodeV2: o.customer.default_address?.country_code ?? null },
      }
      : null,
    shippingAddress: address(o.shipping_address),
    billingAddress: address(o.billing_address),
    lineItems: {
      nodes: (o.line_items ?? []).map((l: Json) => ({ title: l.title, quantity: l.quantity })),
    },
    tags: String(o.tags ?? "").split(",").map((t) => t.trim()).filter(Boolean),
  };
}

const gidId = (gid: unknown, type: string) =>
  typeof gid === "string"
    ? new RegExp(`^gid://shopify/${type}/([0-9]+)$`).exec(gid)?.[1] ?? null
    : null;

export function startShopifyEmulator(options: ShopifyEmulatorOptions) {
  const shops = new Map<string, ShopData>();
  const tokens = new Map<string, { shop: string; expiresAt: number | null }>();
  const refreshTokens = new Map<string, { shop: string; expiresAt: number }>();
  const calls: AdminCall[] = [];
  const tokenRequests: Array<{ shop: string | null; grant: string; ok: boolean; at: string }> = [];
  const deliveries: Delivery[] = [];
  const inflight = new Set<Promise<unknown>>();
  let secret = options.apiSecret;
  let adminFaults = 0;
  let nextId = 5_500_000_000_000 + Math.floor(Math.random() * 1e9);
  const webhooksAt = (appUrl: string) => `${appUrl.replace(/\/+$/, "")}/webhooks/shopify`;
  let appLevel = options.appUrl ? webhooksAt(options.appUrl) : null;

  if (options.stateFile) {
    try {
      const saved = JSON.parse(Deno.readTextFileSync(options.stateFile));
      for (const [shop, d] of Object.entries(saved.shops as Record<string, Json>)) {
        shops.set(shop, {
          orders: new Map(Object.entries(d.orders)),
          subscriptions: d.subscriptions,
          nextOrder: d.nextOrder,
        });
      }
      for (const [t, v] of Object.entries(saved.tokens as Record<string, Json>)) {
        tokens.set(t, v as { shop: string; expiresAt: number | null });
      }
      for (const [t, v] of Object.entries(saved.refreshTokens as Record<string, Json>)) {
        refreshTokens.set(t, v as { shop: string; expiresAt: number });
      }
      nextId = Math.max(nextId, Number(saved.nextId) || 0);
    } catch { /* a first start */ }
  }
  const save = () => {
    if (!options.stateFile) return;
    Deno.writeTextFileSync(
      options.stateFile,
      JSON.stringify({
        shops: Object.fromEntries(
          [...shops].map(([shop, d]) => [shop, {
            orders: Object.fromEntries(d.orders),
            subscriptions: d.subscriptions,
            nextOrder: d.nextOrder,
          }]),
        ),
        tokens: Object.fromEntries(tokens),
        refreshTokens: Object.fromEntries(refreshTokens),
        nextId,
      }),
      { mode: 0o600 },
    );
  };

  const shopData = (shop: string) => {
    let s = shops.get(shop);
    if (!s) shops.set(shop, s = { orders: new Map(), subscriptions: [], nextOrder: 1001 });
    return s;
  };

  async function post(d: Omit<Delivery, "status" | "at">): Promise<number | null> {
    let status: number | null = null;
    for (let attempt = 0; attempt <= (options.retries ?? 0); attempt++) {
      try {
        const res = await fetch(d.uri, {
          method: "POST",
          headers: d.headers,
          body: d.body,
          redirect: "manual",
          signal: AbortSignal.timeout(5_000),
        });
        await res.body?.cancel();
        status = res.status;
        if (res.ok) break;
      } catch {
        status = null;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    deliveries.push({ ...d, status, at: new Date().toISOString() });
    return status;
  }

  /**
   * One event of `topic`: one delivery per subscription address (each with its own webhook id,
   * all with the event's id), signed with the current secret.
   */
  async function deliver(
    shop: string,
    topic: string,
    payload: unknown,
    extra: { webhookId?: string; eventId?: string; triggeredAt?: string; sign?: string } = {},
  ) {
    const compliance = COMPLIANCE_TOPICS.includes(topic);
    const uris = new Set<string>();
    if (!compliance) {
      for (const s of shopData(shop).subscriptions) if (s.topic === topic) uris.add(s.uri);
    }
    if (appLevel && (compliance || options.appLevelTopics !== false)) uris.add(appLevel);
    const body = JSON.stringify(payload);
    const eventId = extra.eventId ?? crypto.randomUUID();
    const triggeredAt = extra.triggeredAt ?? new Date().toISOString();
    const out: Array<{ uri: string; webhook_id: string; status: number | null }> = [];
    for (const uri of uris) {
      const webhookId = extra.webhookId ?? crypto.randomUUID();
      const headers = {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": extra.sign ?? await shopifyHmac(secret, body),
        "x-shopify-shop-domain": shop,
        "x-shopify-api-version": "2026-07",
        "x-shopify-webhook-id": webhookId,
        "x-shopify-event-id": eventId,
        "x-shopify-triggered-at": triggeredAt,
      };
      const status = await post({
        webhookId,
        eventId,
        topic,
        shop,
        uri,
        body,
        headers,
        triggeredAt,
      });
      out.push({ uri, webhook_id: webhookId, status });
    }
    return { event_id: eventId, deliveries: out };
  }

  const later = (p: Promise<unknown>) => {
    const q = p.catch(() => {}).finally(() => inflight.delete(q));
    inflight.add(q);
  };

  function createOrder(shop: string, input: Json = {}): Json {
    const data = shopData(shop);
    const order = buildOrder(shop, ++nextId, data.nextOrder++, input);
    data.orders.set(String(order.id), order);
    return order;
  }

  function findOrder(id: string): { shop: string; order: Json } | null {
    for (const [shop, data] of shops) {
      const order = data.orders.get(id);
      if (order) return { shop, order };
    }
    return null;
  }

  async function cancel(shop: string, order: Json) {
    order.cancelled_at = new Date().toISOString();
    order.cancel_reason = "customer";
    order.updated_at = order.cancelled_at;
    return await deliver(shop, "orders/cancelled", order);
  }

  // ---------------------------------------------------------------- the app's side of Shopify

  async function accessToken(req: Request): Promise<Response> {
    let body: Json;
    try {
      const text = await req.text();
      body = req.headers.get("content-type")?.includes("json")
        ? JSON.parse(text)
        : Object.fromEntries(new URLSearchParams(text));
    } catch {
      return Response.json({ error: "invalid_request" }, { status: 400 });
    }
    const grant = String(body.grant_type ?? "");
    const record = (shop: string | null, ok: boolean) =>
      tokenRequests.push({ shop, grant, ok, at: new Date().toISOString() });
    if (
      body.client_id !== options.apiKey || (body.client_secret !== secret &&
        body.client_secret !== options.apiSecret)
    ) {
      record(null, false);
      return Response.json({ error: "invalid_client" }, { status: 401 });
    }
    let shop: string;
    if (grant === "urn:ietf:params:oauth:grant-type:token-exchange") {
      try {
        const { payload } = await jwtVerify(
          String(body.subject_token),
          new TextEncoder().encode(secret),
          { algorithms: ["HS256"], audience: options.apiKey, clockTolerance: 10 },
        );
        shop = new URL(String(payload.dest)).host;
      } catch {
        record(null, false);
        return Response.json({
          error: "invalid_subject_token",
          error_description: "The session token is invalid or expired",
        }, { status: 400 });
      }
    } else if (grant === "refresh_token") {
      const found = refreshTokens.get(String(body.refresh_token));
      if (!found || found.expiresAt < Date.now()) {
        record(null, false);
        return Response.json({ error: "invalid_grant" }, { status: 400 });
      }
      shop = found.shop;
    } else {
      record(null, false);
      return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
    }
    shopData(shop);
    const expiring = String(body.expiring ?? "") === "1" || grant === "refresh_token";
    const access = `shpat_${random()}`;
    tokens.set(access, { shop, expiresAt: expiring ? Date.now() + 3_600_000 : null });
    record(shop, true);
    if (!expiring) {
      return Response.json({ access_token: access, scope: "read_orders,write_orders" });
    }
    const refresh = `shprt_${random()}`;
    refreshTokens.set(refresh, { shop, expiresAt: Date.now() + 90 * 86_400_000 });
    return Response.json({
      access_token: access,
      scope: "read_orders,write_orders",
      expires_in: 3600,
      refresh_token: refresh,
      refresh_token_expires_in: 90 * 86_400,
    });
  }

  const userErrors = (message: string, field: string[] = []) => [{ field, message }];

  async function graphql(req: Request): Promise<Response> {
    const token = tokens.get(req.headers.get("x-shopify-access-token") ?? "");
    if (!token || (token.expiresAt !== null && token.expiresAt < Date.now())) {
      return Response.json({
        errors: "[API] Invalid API key or access token (unrecognized login or wrong password)",
      }, { status: 401 });
    }
    if (adminFaults > 0) {
      adminFaults--;
      return Response.json({ errors: "Internal error" }, { status: 503 });
    }
    let body: Json;
    try {
      body = await req.json();
    } catch {
      return Response.json({ errors: [{ message: "Invalid JSON" }] }, { status: 400 });
    }
    const query = String(body.query ?? "");
    const vars: Json = body.variables ?? {};
    const shop = token.shop;
    const data = shopData(shop);
    const operation =
      /\b(order|tagsAdd|orderCancel|webhookSubscriptionCreate|webhookSubscriptions)\s*\(/
        .exec(query.replace(/^\s*(query|mutation)\s+\w+\s*(\([^)]*\))?\s*\{/s, ""))?.[1] ??
        (/\bwebhookSubscriptions\b/.test(query) ? "webhookSubscriptions" : null);
    calls.push({
      shop,
      operation: operation ?? "unknown",
      variables: vars,
      at: new Date().toISOString(),
    });
    switch (operation) {
      case "order": {
        const id = gidId(vars.id, "Order");
        const order = id ? data.orders.get(id) : undefined;
        return Response.json({ data: { order: order ? graphqlOrder(order) : null } });
      }
      case "tagsAdd": {
        const id = gidId(vars.id, "Order");
        const order = id ? data.orders.get(id) : undefined;
        if (!order) {
          return Response.json({
            data: {
              tagsAdd: { node: null, userErrors: userErrors("Order does not exist", ["id"]) },
            },
          });
        }
        const tags = new Set(String(order.tags).split(",").map((t) => t.trim()).filter(Boolean));
        for (const t of vars.tags ?? []) tags.add(String(t));
        order.tags = [...tags].join(", ");
        return Response.json({ data: { tagsAdd: { node: { id: vars.id }, userErrors: [] } } });
      }
      case "orderCancel": {
        const id = gidId(vars.orderId, "Order");
        const order = id ? data.orders.get(id) : undefined;
        if (!order || order.cancelled_at) {
          return Response.json({
            data: {
              orderCancel: {
                job: null,
                orderCancelUserErrors: [{
                  field: ["orderId"],
                  message: order ? "Order has already been cancelled" : "Order does not exist",
                  code: order ? "ORDER_ALREADY_CANCELLED" : "NOT_FOUND",
                }],
              },
            },
          });
        }
        later(cancel(shop, order));
        return Response.json({
          data: {
            orderCancel: {
              job: { id: `gid://shopify/Job/${crypto.randomUUID()}`, done: false },
              orderCancelUserErrors: [],
            },
          },
        });
      }
      case "webhookSubscriptionCreate": {
        const topic = TOPIC_OF[String(vars.topic)];
        const uri = String(vars.webhookSubscription?.uri ?? "");
        let problem: string | null = null;
        if (!topic) problem = `Invalid topic ${vars.topic}`;
        else if (!/^https?:\/\//.test(uri)) problem = "Address is invalid";
        else if (data.subscriptions.some((s) => s.topic === topic && s.uri === uri)) {
          problem = "Address for this topic has already been taken";
        }
        if (problem) {
          return Response.json({
            data: {
              webhookSubscriptionCreate: {
                webhookSubscription: null,
                userErrors: userErrors(problem, ["webhookSubscription", "uri"]),
              },
            },
          });
        }
        const sub = { id: `gid://shopify/WebhookSubscription/${++nextId}`, topic: topic!, uri };
        data.subscriptions.push(sub);
        return Response.json({
          data: {
            webhookSubscriptionCreate: {
              webhookSubscription: { id: sub.id, topic: vars.topic, uri },
              userErrors: [],
            },
          },
        });
      }
      case "webhookSubscriptions":
        return Response.json({
          data: {
            webhookSubscriptions: {
              nodes: data.subscriptions.map((s) => ({
                id: s.id,
                topic: ENUM_TOPIC(s.topic),
                uri: s.uri,
              })),
            },
          },
        });
      default:
        return Response.json({
          errors: [{ message: "This emulator answers only the operations the plugin makes" }],
        }, { status: 200 });
    }
  }

  // ---------------------------------------------------------------- control and inspection

  async function control(req: Request, path: string): Promise<Response> {
    const json = async () => {
      try {
        return (await req.json()) as Json;
      } catch {
        return {};
      }
    };
    if (path === "/__emulator/health") return Response.json({ status: "ok" });
    if (path === "/__emulator/session-token" && req.method === "POST") {
      const b = await json();
      return Response.json({
        token: await sessionToken({
          apiKey: options.apiKey,
          apiSecret: b.secret ?? secret,
          shop: String(b.shop),
          userId: b.user_id,
          expiresInSeconds: b.expires_in,
        }),
      });
    }
    if (path === "/__emulator/orders" && req.method === "POST") {
      const b = await json();
      const order = createOrder(String(b.shop), b);
      const sent = b.deliver === false
        ? null
        : await deliver(String(b.shop), "orders/create", order);
      return Response.json({ order, ...sent });
    }
    const orderPath = /^\/__emulator\/orders\/([0-9]+)(?:\/([a-z-]+))?$/.exec(path);
    if (orderPath) {
      const found = findOrder(orderPath[1]);
      if (!found) return Response.json({ error: "no such order" }, { status: 404 });
      const { shop, order } = found;
      const action = orderPath[2];
      if (!action && req.method === "GET") return Response.json({ shop, order });
      const b = await json();
      if (action === "fulfillments" && req.method === "POST") {
        const now = new Date().toISOString();
        const fulfillment = merge({
          id: ++nextId,
          order_id: order.id,
          name: `${order.name}.1`,
          status: "success",
          created_at: now,
          updated_at: now,
          tracking_company: b.tracking_company ?? null,
          tracking_number: b.tracking_number ?? null,
          tracking_numbers: b.tracking_number ? [b.tracking_number] : [],
          tracking_url: b.tracking_url ?? null,
          tracking_urls: b.tracking_url ? [b.tracking_url] : [],
          shipment_status: null,
          destination: order.shipping_address,
          line_items: order.line_items,
        }, b.fulfillment);
        order.fulfillment_status = "fulfilled";
        return Response.json({
          fulfillment,
          ...await deliver(shop, b.topic ?? "fulfillments/create", fulfillment),
        });
      }
      if (action === "fulfillment-events" && req.method === "POST") {
        const now = new Date().toISOString();
        const event = {
          id: ++nextId,
          fulfillment_id: b.fulfillment_id,
          order_id: order.id,
          status: b.status ?? "in_transit",
          message: null,
          happened_at: b.happened_at ?? now,
          created_at: now,
          updated_at: now,
          shop_id: 1,
        };
        return Response.json({
          event,
          ...await deliver(shop, "fulfillment_events/create", event, {
            triggeredAt: b.triggered_at,
          }),
        });
      }
      if (action === "cancel" && req.method === "POST") {
        return Response.json(await cancel(shop, order));
      }
      if (action === "refunds" && req.method === "POST") {
        const refund = {
          id: ++nextId,
          order_id: order.id,
          created_at: new Date().toISOString(),
          note: null,
          refund_line_items: [],
          transactions: [{
            amount: String(b.amount ?? "499.00"),
            currency: order.presentment_currency,
            kind: "refund",
            status: "success",
          }],
        };
        return Response.json({ refund, ...await deliver(shop, "refunds/create", refund) });
      }
    }
    if (path === "/__emulator/webhooks" && req.method === "POST") {
      // any topic and payload, as given: for tests of what the app does with odd deliveries
      const b = await json();
      return Response.json(
        await deliver(String(b.shop), String(b.topic), b.payload ?? {}, {
          webhookId: b.webhook_id,
          eventId: b.event_id,
          triggeredAt: b.triggered_at,
          sign: b.signature,
        }),
      );
    }
    if (path === "/__emulator/redeliver" && req.method === "POST") {
      const b = await json();
      const original = deliveries.find((d) => d.webhookId === b.webhook_id);
      if (!original) return Response.json({ error: "no such delivery" }, { status: 404 });
      // the same bytes and headers (Shopify's retry), or the same event under a new webhook id
      // (a second subscription, or Shopify's own duplicate)
      const webhookId = b.new_webhook_id ? crypto.randomUUID() : original.webhookId;
      const headers = { ...original.headers, "x-shopify-webhook-id": webhookId };
      const status = await post({ ...original, webhookId, headers });
      return Response.json({ webhook_id: webhookId, status });
    }
    if (path === "/__emulator/uninstall" && req.method === "POST") {
      const b = await json();
      const shop = String(b.shop);
      for (const [t, v] of tokens) if (v.shop === shop) tokens.delete(t);
      for (const [t, v] of refreshTokens) if (v.shop === shop) refreshTokens.delete(t);
      const sent = await deliver(shop, "app/uninstalled", {
        id: 1,
        name: shop.split(".")[0],
        domain: shop,
        myshopify_domain: shop,
      });
      // uninstalling removes the app's webhook subscriptions
      shopData(shop).subscriptions = [];
      return Response.json(sent);
    }
    if (path === "/__emulator/compliance" && req.method === "POST") {
      const b = await json();
      const shop = String(b.shop);
      const topic = String(b.topic);
      const base = { shop_id: 1, shop_domain: shop };
      const payload = topic === "shop/redact" ? base : {
        ...base,
        customer: b.customer ?? { id: 191167, email: "asha@example.com", phone: null },
        ...(topic === "customers/data_request"
          ? { orders_requested: b.orders ?? [], data_request: { id: ++nextId } }
          : { orders_to_redact: b.orders ?? [] }),
      };
      return Response.json(await deliver(shop, topic, payload));
    }
    if (path === "/__emulator/secret" && req.method === "POST") {
      secret = String((await json()).secret);
      return Response.json({ rotated: true });
    }
    if (path === "/__emulator/faults" && req.method === "POST") {
      adminFaults = Number((await json()).admin ?? 0);
      return Response.json({ admin: adminFaults });
    }
    if (path === "/__emulator/calls") {
      const shop = new URL(req.url).searchParams.get("shop");
      return Response.json({
        data: calls.filter((c) => !shop || c.shop === shop),
        token_requests: tokenRequests.filter((c) => !shop || c.shop === shop),
      });
    }
    if (path === "/__emulator/deliveries") {
      const shop = new URL(req.url).searchParams.get("shop");
      return Response.json({
        data: deliveries.filter((d) => !shop || d.shop === shop).map((d) => ({
          webhook_id: d.webhookId,
          event_id: d.eventId,
          topic: d.topic,
          shop: d.shop,
          uri: d.uri,
          status: d.status,
          at: d.at,
        })),
      });
    }
    if (path === "/__emulator/subscriptions") {
      const shop = String(new URL(req.url).searchParams.get("shop"));
      return Response.json({ data: shopData(shop).subscriptions });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  }

  async function handle(req: Request): Promise<Response> {
    try {
      return await route(req);
    } finally {
      if (req.method !== "GET") save();
    }
  }

  async function route(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === "/admin/oauth/access_token" && req.method === "POST") {
      return await accessToken(req);
    }
    if (/^\/admin\/api\/[0-9]{4}-[0-9]{2}\/graphql\.json$/.test(path) && req.method === "POST") {
      return await graphql(req);
    }
    if (path.startsWith("/__emulator/")) return await control(req, path);
    return Response.json({ errors: "Not Found" }, { status: 404 });
  }

  const server = Deno.serve(
    { hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    handle,
  );
  const url = `http://${options.hostname ?? "127.0.0.1"}:${(server.addr as Deno.NetAddr).port}`;
  if (!options.quiet) console.log(`Shopify emulator on ${url}`);

  return {
    url,
    /** an order as the shop holds it now (tags, cancelled_at) */
    order: (id: string) => findOrder(id)?.order ?? null,
    createOrder,
    deliver,
    calls: (shop?: string) => calls.filter((c) => !shop || c.shop === shop),
    tokenRequests: () => [...tokenRequests],
    deliveries: (shop?: string) => deliveries.filter((d) => !shop || d.shop === shop),
    subscriptions: (shop: string) => [...shopData(shop).subscriptions],
    sessionToken: (shop: string, userId?: string) =>
      sessionToken({ apiKey: options.apiKey, apiSecret: secret, shop, userId }),
    /** where app-level webhooks go, once the app's address is known */
    setAppUrl(appUrl: string) {
      appLevel = webhooksAt(appUrl);
    },
    rotateSecret(next: string) {
      secret = next;
    },
    failAdminCalls(n: number) {
      adminFaults = n;
    },
    async close() {
      await Promise.all([...inflight]);
      await server.shutdown();
    },
  };
}

export type ShopifyEmulator = ReturnType<typeof startShopifyEmulator>;

if (import.meta.main) {
  const HELP = `deno task emulator:shopify [options]

The Shopify emulator on its own (deno task dev starts one for you): signed webhooks, token
exchange and the Admin GraphQL calls the Shopify plugin makes. Point the app at it with
SHOPIFY_API_BASE_URL=<its URL>.

Options:
  --port N            port (default 8791)
  --api-key K         the app's client id (SHOPIFY_API_KEY); required
  --api-secret S      the app's client secret (SHOPIFY_API_SECRET): signs webhooks and session
                      tokens; required
  --app-url URL       the app's base URL: app-level webhooks (compliance topics, and every topic
                      unless --no-app-level-topics) go to URL/webhooks/shopify
  --no-app-level-topics  deliver admin topics only to the subscriptions the app created
  -h, --help          show this help

Drive it (JSON bodies; every webhook is signed and posted to the app):
  POST /__emulator/session-token {"shop"}                        → {"token"} for /plugins/shopify/app
  POST /__emulator/orders {"shop", "phone", "country", "cod", "opt_in", "order": {…}}
                                                                 → orders/create
  POST /__emulator/orders/ID/fulfillments {"tracking_company", "tracking_number", "tracking_url"}
  POST /__emulator/orders/ID/fulfillment-events {"fulfillment_id", "status": "out_for_delivery"}
  POST /__emulator/orders/ID/cancel · POST /__emulator/orders/ID/refunds {"amount"}
  POST /__emulator/webhooks {"shop", "topic", "payload", "webhook_id"?, "triggered_at"?}
  POST /__emulator/redeliver {"webhook_id", "new_webhook_id"?: true}
  POST /__emulator/uninstall {"shop"} · POST /__emulator/compliance {"shop", "topic", "customer"?}
  POST /__emulator/secret {"secret"} (a rotation) · POST /__emulator/faults {"admin": N}
Inspect: GET /__emulator/orders/ID (tags, cancelled_at), /__emulator/calls (Admin API calls and
token requests), /__emulator/deliveries, /__emulator/subscriptions?shop=…`;
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      options: {
        port: { type: "string", default: "8791" },
        "api-key": { type: "string" },
        "api-secret": { type: "string" },
        "app-url": { type: "string" },
        "no-app-level-topics": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`emulator:shopify: ${(error as Error).message}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  if (!args["api-key"] || !args["api-secret"]) {
    console.error(`emulator:shopify: --api-key and --api-secret are required\n\n${HELP}`);
    Deno.exit(2);
  }
  const emulator = startShopifyEmulator({
    port: Number(args.port),
    apiKey: args["api-key"],
    apiSecret: args["api-secret"],
    appUrl: args["app-url"],
    appLevelTopics: !args["no-app-level-topics"],
  });
  const stop = async () => {
    await emulator.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
