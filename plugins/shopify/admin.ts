import type { PluginContext } from "../../src/plugin_api/mod.ts";
import { ENV, secretsOf } from "./webhook.ts";
import { GraphqlOrder, orderFromGraphql, type OrderInfo } from "./payloads.ts";

/**
 * The Admin API as the plugin uses it: token exchange (a session token for an expiring offline
 * token, kept sealed in the vault, refreshed before it expires) and the GraphQL calls of the
 * notifications: the order, tagsAdd, orderCancel, webhookSubscriptionCreate. Everything goes
 * through ctx.fetch, to `https://<shop>` in production or to SHOPIFY_API_BASE_URL (an emulator).
 */

export const DEFAULT_API_VERSION = "2026-07";
const TOKEN = "offline-token";
/** refresh this long before the access token expires (Shopify's live an hour) */
const REFRESH_MARGIN_MS = 5 * 60_000;
const MAX_ANSWER_BYTES = 1_048_576;

export interface StoredToken {
  access_token: string;
  scope: string | null;
  /** ms since the epoch; null: a non-expiring token */
  expires_at: number | null;
  refresh_token: string | null;
  refresh_expires_at: number | null;
}

/** The Admin API said no (a revoked token, a missing scope) or failed; `retryable` for 429/5xx. */
export class AdminApiError extends Error {
  constructor(message: string, readonly status: number | null, readonly retryable: boolean) {
    super(message);
    this.name = "AdminApiError";
  }
}

/** The shop has no usable offline token: it must open the app (managed install) first. */
export class NotInstalled extends Error {
  constructor() {
    super("The shop has no Admin API token: open the app in the shop's admin to install it");
    this.name = "NotInstalled";
  }
}

type Ctx = PluginContext<{ shop_domain: string }>;

function origin(ctx: Ctx, shop: string): string {
  const base = ctx.env.get(ENV.apiBaseUrl);
  return (base ? base.replace(/\/+$/, "") : `https://${shop}`);
}

const version = (ctx: Ctx) => ctx.env.get(ENV.apiVersion) ?? DEFAULT_API_VERSION;

async function readJson(res: Response): Promise<unknown> {
  const length = Number(res.headers.get("content-length") ?? 0);
  if (length > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw new AdminApiError("The Admin API's answer is too large", res.status, false);
  }
  const text = await res.text();
  if (text.length > MAX_ANSWER_BYTES) {
    throw new AdminApiError("The Admin API's answer is too large", res.status, false);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminApiError(`The Admin API answered ${res.status} without JSON`, res.status, true);
  }
}

function tokenFrom(body: unknown, now: number): StoredToken {
  const b = body as Record<string, unknown>;
  if (typeof b?.access_token !== "string" || !b.access_token) {
    throw new AdminApiError("The token endpoint answered without an access token", null, false);
  }
  const seconds = (v: unknown) => typeof v === "number" && v > 0 ? now + v * 1000 : null;
  return {
    access_token: b.access_token,
    scope: typeof b.scope === "string" ? b.scope : null,
    expires_at: seconds(b.expires_in),
    refresh_token: typeof b.refresh_token === "string" ? b.refresh_token : null,
    refresh_expires_at: seconds(b.refresh_token_expires_in),
  };
}

async function tokenRequest(ctx: Ctx, shop: string, body: Record<string, string>) {
  const res = await ctx.fetch(`${origin(ctx, shop)}/admin/oauth/access_token`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await readJson(res);
  if (!res.ok) {
    const reason = (answer as { error?: string })?.error ?? `status ${res.status}`;
    throw new AdminApiError(
      `The token endpoint refused: ${String(reason).slice(0, 200)}`,
      res.status,
      res.status === 429 || res.status >= 500,
    );
  }
  return tokenFrom(answer, Date.now());
}

/**
 * Shopify-managed install: the session token of a staff member who opened the app becomes an
 * expiring offline token (https://shopify.dev/docs/apps/build/authentication-authorization/
 * access-tokens/token-exchange), sealed in the vault.
 */
export async function exchangeSessionToken(
  ctx: Ctx,
  shop: string,
  sessionToken: string,
): Promise<StoredToken> {
  const token = await tokenRequest(ctx, shop, {
    client_id: ctx.env.get(ENV.apiKey)!,
    client_secret: secretsOf(ctx.env)[0],
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: sessionToken,
    subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
    requested_token_type: "urn:shopify:params:oauth:token-type:offline-access-token",
    expiring: "1",
  });
  await ctx.vault.set(TOKEN, JSON.stringify(token));
  return token;
}

/** The shop's token is gone (app/uninstalled revokes it at once): nothing may use it again. */
export async function destroyToken(ctx: Ctx): Promise<void> {
  await ctx.vault.delete(TOKEN);
}

export async function hasToken(ctx: Ctx): Promise<boolean> {
  return (await ctx.vault.get(TOKEN)) !== null;
}

/**
 * The offline access token, refreshed first when it expires within five minutes. Concurrent
 * refreshes are harmless: Shopify accepts the previous refresh token until its replacement is
 * first used, and each refreshed pair is written whole.
 */
async function accessToken(ctx: Ctx, shop: string): Promise<string> {
  const raw = await ctx.vault.get(TOKEN);
  if (!raw) throw new NotInstalled();
  const token = JSON.parse(raw) as StoredToken;
  const now = Date.now();
  if (token.expires_at === null || token.expires_at - REFRESH_MARGIN_MS > now) {
    return token.access_token;
  }
  if (!token.refresh_token || (token.refresh_expires_at ?? Infinity) < now) {
    throw new NotInstalled();
  }
  const fresh = await tokenRequest(ctx, shop, {
    client_id: ctx.env.get(ENV.apiKey)!,
    client_secret: secretsOf(ctx.env)[0],
    grant_type: "refresh_token",
    refresh_token: token.refresh_token,
  });
  await ctx.vault.set(TOKEN, JSON.stringify(fresh));
  return fresh.access_token;
}

/** One Admin GraphQL call; throws AdminApiError on a transport, HTTP or GraphQL error. */
export async function adminGraphql<T>(
  ctx: Ctx,
  shop: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  const res = await ctx.fetch(`${origin(ctx, shop)}/admin/api/${version(ctx)}/graphql.json`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      "x-shopify-access-token": await accessToken(ctx, shop),
    },
    body: JSON.stringify({ query, variables }),
  });
  const answer = await readJson(res) as { data?: T; errors?: Array<{ message?: string }> };
  if (!res.ok) {
    throw new AdminApiError(
      `The Admin API answered ${res.status}`,
      res.status,
      res.status === 429 || res.status >= 500,
    );
  }
  if (answer.errors?.length) {
    const message = answer.errors.map((e) => String(e.message ?? "")).join("; ").slice(0, 300);
    // THROTTLED is Shopify's cost-based rate limit: a retry later succeeds
    throw new AdminApiError(`GraphQL: ${message}`, res.status, /throttled/i.test(message));
  }
  if (!answer.data) throw new AdminApiError("GraphQL answered no data", res.status, true);
  return answer.data;
}

type UserErrors = Array<{ field?: string[] | null; message: string }>;
const userErrors = (what: string, errors: UserErrors | undefined) => {
  if (errors?.length) {
    throw new AdminApiError(
      `${what}: ${errors.map((e) => e.message).join("; ").slice(0, 300)}`,
      200,
      false,
    );
  }
};

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;

export const ORDER_QUERY = `query order($id: ID!) {
  order(id: $id) {
    legacyResourceId name phone customerLocale currencyCode presentmentCurrencyCode
    displayFinancialStatus paymentGatewayNames cancelledAt statusPageUrl
    totalPriceSet { presentmentMoney { amount currencyCode } }
    customAttributes { key value }
    customer { firstName lastName defaultPhoneNumber { phoneNumber } defaultAddress { countryCodeV2 } }
    shippingAddress { firstName phone countryCodeV2 }
    billingAddress { phone countryCodeV2 }
    lineItems(first: 20) { nodes { title quantity } }
  }
}`;

/** The order as it is now (a fulfillment or refund webhook carries no customer details). */
export async function fetchOrder(ctx: Ctx, shop: string, orderId: string): Promise<OrderInfo> {
  const data = await adminGraphql<{ order: unknown }>(ctx, shop, ORDER_QUERY, {
    id: gid("Order", orderId),
  });
  if (!data.order) throw new AdminApiError(`Order ${orderId} was not found`, 200, false);
  const parsed = GraphqlOrder.safeParse(data.order);
  if (!parsed.success) throw new AdminApiError("The order's answer is malformed", 200, false);
  return orderFromGraphql(parsed.data);
}

export const TAGS_ADD = `mutation tagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}`;

export async function tagOrder(ctx: Ctx, shop: string, orderId: string, tag: string) {
  const data = await adminGraphql<{ tagsAdd: { userErrors?: UserErrors } }>(ctx, shop, TAGS_ADD, {
    id: gid("Order", orderId),
    tags: [tag],
  });
  userErrors("tagsAdd", data.tagsAdd?.userErrors);
}

export const ORDER_CANCEL = `mutation orderCancel($orderId: ID!, $reason: OrderCancelReason!,
  $refund: Boolean!, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}`;

export async function cancelOrder(ctx: Ctx, shop: string, orderId: string) {
  const data = await adminGraphql<{ orderCancel: { orderCancelUserErrors?: UserErrors } }>(
    ctx,
    shop,
    ORDER_CANCEL,
    {
      orderId: gid("Order", orderId),
      reason: "CUSTOMER",
      // a cash-on-delivery order was not paid: nothing to refund
      refund: false,
      restock: true,
      notifyCustomer: false,
      staffNote: "Cancelled by the customer on WhatsApp (cash on delivery confirmation)",
    },
  );
  userErrors("orderCancel", data.orderCancel?.orderCancelUserErrors);
}

/** The topics the notifications need, as WebhookSubscriptionTopic values. */
export const SUBSCRIBED_TOPICS = [
  "ORDERS_CREATE",
  "ORDERS_CANCELLED",
  "FULFILLMENTS_CREATE",
  "FULFILLMENTS_UPDATE",
  "FULFILLMENT_EVENTS_CREATE",
  "REFUNDS_CREATE",
  "APP_UNINSTALLED",
] as const;

export const WEBHOOK_SUBSCRIPTION_CREATE = `mutation webhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`;

/**
 * Subscribes the shop to every topic the notifications need, at `uri`. A topic already
 * subscribed at the same address is fine (a reinstall, a second page load). The compliance topics
 * cannot be subscribed this way: the app's configuration declares them (README).
 */
export async function subscribeWebhooks(ctx: Ctx, shop: string, uri: string): Promise<string[]> {
  const done: string[] = [];
  for (const topic of SUBSCRIBED_TOPICS) {
    const data = await adminGraphql<{
      webhookSubscriptionCreate: { userErrors?: UserErrors };
    }>(ctx, shop, WEBHOOK_SUBSCRIPTION_CREATE, {
      topic,
      webhookSubscription: { uri, format: "JSON" },
    });
    const errors = (data.webhookSubscriptionCreate?.userErrors ?? [])
      .filter((e) => !/already been taken/i.test(e.message));
    userErrors(`webhookSubscriptionCreate ${topic}`, errors);
    done.push(topic);
  }
  return done;
}
