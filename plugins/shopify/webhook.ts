import type { PluginEnv, WebhookVerdict } from "../../src/plugin_api/mod.ts";
import { SHOP_DOMAIN } from "./config.ts";

/**
 * Shopify's webhook headers (https://shopify.dev/docs/apps/build/webhooks/delivery-structure), in
 * both families: `X-Shopify-*` on HTTPS deliveries and the un-prefixed `shopify-*` of the newer
 * Events deliveries. Header names are case-insensitive; Headers reads them so.
 */
export const HEADER = {
  hmac: ["x-shopify-hmac-sha256", "shopify-hmac-sha256"],
  topic: ["x-shopify-topic", "shopify-topic"],
  shop: ["x-shopify-shop-domain", "shopify-shop-domain"],
  webhookId: ["x-shopify-webhook-id", "shopify-webhook-id"],
  eventId: ["x-shopify-event-id", "shopify-event-id"],
  triggeredAt: ["x-shopify-triggered-at", "shopify-triggered-at"],
  apiVersion: ["x-shopify-api-version", "shopify-api-version"],
} as const;

/** The headers the handler gets with each delivery (the core keeps these, at most 1 KiB each). */
export const KEPT_HEADERS = [
  ...HEADER.topic,
  ...HEADER.webhookId,
  ...HEADER.eventId,
  ...HEADER.triggeredAt,
  ...HEADER.apiVersion,
];

type HeaderSource = { get(name: string): string | null | undefined };

/** The first of a header's names that is present. */
export function header(
  headers: HeaderSource,
  names: readonly string[],
): string | null {
  for (const name of names) {
    const value = headers.get(name);
    if (value) return value;
  }
  return null;
}

/** The same, over the headers the core kept with a delivery. */
export const keptHeader = (kept: Readonly<Record<string, string>>, names: readonly string[]) =>
  header({ get: (name) => kept[name] }, names);

export const ENV = {
  apiKey: "SHOPIFY_API_KEY",
  apiSecret: "SHOPIFY_API_SECRET",
  previousSecret: "SHOPIFY_API_SECRET_PREVIOUS",
  apiBaseUrl: "SHOPIFY_API_BASE_URL",
  apiVersion: "SHOPIFY_API_VERSION",
  publicBaseUrl: "PUBLIC_BASE_URL",
} as const;

/** Whether this deployment has a Shopify app (its client id and secret). */
export const configured = (env: PluginEnv) => !!env.get(ENV.apiKey) && !!env.get(ENV.apiSecret);
export const NOT_CONFIGURED =
  "this deployment has no Shopify app: set SHOPIFY_API_KEY and SHOPIFY_API_SECRET";

/** The app's client secret and, during a rotation, the previous one (Shopify may sign with either
 * for up to an hour after a rotation). */
export function secretsOf(env: PluginEnv): string[] {
  return [env.get(ENV.apiSecret), env.get(ENV.previousSecret)].filter((s): s is string => !!s);
}

const keys = new Map<string, Promise<CryptoKey>>();
function verifyKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    // importing costs about one MAC: once per secret, not per delivery
    key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    if (keys.size > 8) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/** Standard base64 of a 32-byte MAC, or null (anything else cannot be Shopify's). */
function macBytes(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return null;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body under the app's client secret
 * (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries). Web Crypto's verify compares
 * in constant time; every configured secret is tried, so a rotation's hour costs nothing.
 */
export async function verifyShopifyHmac(
  body: Uint8Array<ArrayBuffer>,
  signature: string | null,
  secrets: readonly string[],
): Promise<boolean> {
  const mac = signature === null ? null : macBytes(signature.trim());
  if (!mac || !secrets.length) return false;
  let valid = false;
  for (const secret of secrets) {
    // every secret is tried even after a match: the time taken says nothing about which matched
    const ok = await crypto.subtle.verify("HMAC", await verifyKey(secret), mac, body);
    valid = valid || ok;
  }
  return valid;
}

/** webhook_inbox's dedupe key bound, and a delivery id Shopify would never exceed */
const MAX_ID = 200;

/**
 * The plugin's `webhooks.verify`: the raw bytes first, then the headers that route and dedupe the
 * delivery. A bad or missing signature stores nothing (401); so does a delivery without a
 * well-formed shop domain or webhook id, which Shopify always sends.
 */
export async function verifyDelivery(
  request: { body: Uint8Array<ArrayBuffer>; headers: Headers },
  env: PluginEnv,
): Promise<WebhookVerdict> {
  if (!configured(env)) return { valid: false, reason: NOT_CONFIGURED };
  if (request.body.length === 0) return { valid: false, reason: "the body is empty" };
  const signed = await verifyShopifyHmac(
    request.body,
    header(request.headers, HEADER.hmac),
    secretsOf(env),
  );
  if (!signed) return { valid: false, reason: "the HMAC does not match" };
  const shop = header(request.headers, HEADER.shop)?.trim().toLowerCase() ?? "";
  if (!SHOP_DOMAIN.test(shop)) return { valid: false, reason: "the shop domain is missing" };
  const id = header(request.headers, HEADER.webhookId)?.trim() ?? "";
  if (!id || id.length > MAX_ID || ![...id].every((c) => c >= " " && c <= "~")) {
    return { valid: false, reason: "the webhook id is missing" };
  }
  // per shop: ids are Shopify's, and a shop is the tenant
  return { valid: true, dedupeKey: `${shop}:${id}`, routingKey: shop };
}
