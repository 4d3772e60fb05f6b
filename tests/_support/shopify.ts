import * as registered from "../../plugins/mod.ts";
import { linkCode } from "../../plugins/shopify/session.ts";
import { APPROVED_PROPOSALS } from "../../plugins/shopify/templates.ts";
import type { TemplateSeed } from "../../tools/emulators/graph_api.ts";
import { startShopifyEmulator } from "../../tools/emulators/shopify.ts";
import { LOCAL_SHOPIFY_API_KEY } from "../../tools/stack/mod.ts";
import { eventually } from "./channel.ts";
import { emulatedChannel } from "./emulated_channel.ts";
import { testStack } from "./stack.ts";

/**
 * A client with the Shopify plugin installed for a fresh shop, end to end on the test stack: the
 * real app over HTTP with the registered plugins, the Graph API emulator for WhatsApp, and the
 * Shopify emulator for the shop, reached only through the plugin's production HTTP client with
 * SHOPIFY_API_BASE_URL pointing at it. Installed as a merchant does it: the app's page (opened
 * with a session token) shows a link code, the client sets it with PUT /v1/plugins/shopify, and the
 * next visit exchanges the session token for the offline token and subscribes the webhooks.
 * The client's WABA (at the emulator and in its template store) holds the templates the plugin
 * proposes, approved, so the default notifications pass the core's template check; `templates`
 * replaces them.
 */
export async function shopifyChannel(
  options: {
    config?: Record<string, unknown>;
    install?: boolean;
    env?: Record<string, string>;
    templates?: TemplateSeed[];
  } = {},
) {
  const apiSecret = testStack().secrets.shopify_api_secret;
  const shopify = startShopifyEmulator({
    apiKey: LOCAL_SHOPIFY_API_KEY,
    apiSecret,
    quiet: true,
    // the app subscribes to what it needs; only the compliance topics come from the app's config
    appLevelTopics: false,
  });
  const pluginEnv = {
    SHOPIFY_API_KEY: LOCAL_SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET: apiSecret,
    SHOPIFY_API_BASE_URL: shopify.url,
    ...options.env,
  };
  const { ch, emulator } = await emulatedChannel(
    { SHOPIFY_API_BASE_URL: shopify.url },
    {},
    {
      plugins: { plugins: Object.values(registered), pluginEnv },
      templates: options.templates ?? APPROVED_PROPOSALS,
    },
  );
  shopify.setAppUrl(ch.appUrl);
  const shop = `shop-${crypto.randomUUID().slice(0, 8)}.myshopify.com`;

  /** the merchant page as Shopify's admin opens it */
  const openApp = async (token?: string) => {
    const res = await fetch(
      `${ch.appUrl}/plugins/shopify/app?shop=${shop}&id_token=${
        token ?? await shopify.sessionToken(shop)
      }`,
    );
    return { status: res.status, headers: res.headers, html: await res.text() };
  };

  const install = async (config: Record<string, unknown> = {}) => {
    const first = await openApp();
    const code = /id="link-code">([^<]+)</.exec(first.html)?.[1];
    if (!code) throw new Error(`The app page shows no link code: ${first.status} ${first.html}`);
    const put = await ch.api("/v1/plugins/shopify", {
      method: "PUT",
      body: JSON.stringify({
        config: { shop_domain: shop, ...config },
        secrets: { link_code: code },
      }),
    });
    if (put.status !== 200) throw new Error(`Install failed: ${JSON.stringify(put.body)}`);
    const second = await openApp();
    if (second.status !== 200 || !second.html.includes("Connected")) {
      throw new Error(`The app did not connect: ${second.status} ${second.html.slice(0, 500)}`);
    }
  };
  if (options.install !== false) await install(options.config);

  const templatesTo = (to: string) =>
    emulator.messages().filter((m) =>
      m.to.replace(/\D/g, "") === to.replace(/\D/g, "") &&
      m.type === "template"
    );

  return {
    ch,
    emulator,
    shopify,
    shop,
    apiSecret,
    openApp,
    install,
    linkCode: (forShop = shop) => linkCode(apiSecret, forShop),
    templatesTo,
    textsTo: (to: string) =>
      emulator.messages().filter((m) =>
        m.to.replace(/\D/g, "") === to.replace(/\D/g, "") &&
        m.type === "text"
      ),
    /** posts to the emulator's control API */
    async control(path: string, body: unknown = {}) {
      const res = await fetch(`${shopify.url}/__emulator${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      // deno-lint-ignore no-explicit-any
      return await res.json() as any;
    },
    /** waits until every webhook the app acknowledged has been handled */
    async settled() {
      await ch.idle();
      await eventually(async () => {
        await ch.idle();
        const [{ n }] = await (await import("./stack.ts")).sql<{ n: number }>(
          "select count(*)::int as n from webhook_inbox where provider = 'shopify' and processed_at is null and route_key = $1",
          [shop],
        );
        return n === 0;
      }, "the shop's webhooks to be processed");
      await ch.idle();
    },
    close: async () => {
      await ch.close();
      await shopify.close();
    },
  };
}
