import { parseArgs } from "node:util";
import { createHmac } from "node:crypto";
import { startGraphEmulator } from "../tools/emulators/graph_api.ts";
import { sessionToken, startShopifyEmulator } from "../tools/emulators/shopify.ts";
import { LOCAL_SHOPIFY_API_KEY } from "../tools/stack/mod.ts";
import { APPROVED_PROPOSALS } from "../plugins/shopify/templates.ts";
import { benchChannel } from "./channel_stack.ts";
import { cpuPerUnit, loadAverage, percentile, processCpu } from "./stats.ts";

const HELP =
  `deno run -A bench/shopify_webhooks.ts [--connections N] [--seconds S] [--runtime deno|workerd]

Shopify webhooks on the whole local stack on this machine: a throwaway PostgreSQL + PostgREST, the
app as its own process with the Shopify plugin installed for one shop (linked, then connected
through the app's page: token exchange and webhook subscriptions at the Shopify emulator), the
Graph API emulator, and a closed-loop client posting unique signed orders/create webhooks
(X-Shopify-Hmac-Sha256 over the raw bytes, ~2.5 KB each, each order with its own customer, an
Indian number and the opt-in attribute) to POST /webhooks/shopify. Reports webhooks acknowledged
per second with p50/p99 answer latency, then waits until every acknowledged webhook has been
handled and every resulting notification has been sent to the Graph API emulator, and says how
long that took (end-to-end notifications/s). Traffic goes to 127.0.0.1 only.

Options:
  --connections N   concurrent closed-loop connections (default 32, at most 256)
  --seconds S       how long the load runs (default 15, at most 120)
  --runtime R       deno (default) or workerd
  --cod P           share of the orders that are cash on delivery, in percent (default 0): their
                    confirmations carry the two signed quick-reply buttons
  --duplicates P    share of the deliveries that are a second delivery id of an earlier order
                    (default 0), as a second subscription or Shopify's own duplicates make them:
                    acknowledged, stored, and sent nothing
  -h, --help        show this help

The goal (issue 14): at least 1,000 webhooks acknowledged per second with p99 at most 100 ms on
the local stack, and every resulting notification sent.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "32" },
    seconds: { type: "string", default: "15" },
    runtime: { type: "string", default: "deno" },
    cod: { type: "string", default: "0" },
    duplicates: { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const connections = Math.min(256, Math.max(1, Number(values.connections) || 32));
const seconds = Math.min(120, Math.max(1, Number(values.seconds) || 15));
const runtime = values.runtime === "workerd" ? "workerd" : "deno";
const codShare = Math.min(100, Math.max(0, Number(values.cod) || 0)) / 100;
const duplicateShare = Math.min(100, Math.max(0, Number(values.duplicates) || 0)) / 100;

const shop = "bench-shop.myshopify.com";
let graph: Awaited<ReturnType<typeof startGraphEmulator>> | undefined;
let apiSecret = "";
// the Shopify emulator needs the app's address only for its own deliveries (none here)
const shopify = startShopifyEmulator({
  apiKey: LOCAL_SHOPIFY_API_KEY,
  // replaced below by the stack's secret, which the emulator must sign with: see setSecret
  apiSecret: "pending",
  appLevelTopics: false,
  quiet: true,
});
const ch = await benchChannel({
  runtime,
  env: {
    SHOPIFY_API_BASE_URL: shopify.url,
    // every order has its own customer; no pair pacing is involved, nor waited for
    RECIPIENT_MIN_INTERVAL_MS: "0",
  },
  graph: async (appWebhookUrl, ids) => {
    graph = await startGraphEmulator({
      port: 0,
      appSecret: ids.appSecret,
      webhookUrl: appWebhookUrl,
      tokens: { [ids.phoneNumberId]: ids.token },
      wabaIdFor: () => ids.wabaId,
      // the account holds the plugin's templates, approved: the app's store learns them from the
      // one sync its first checked send makes (sends of templates it does not hold are refused)
      templates: { [ids.wabaId]: APPROVED_PROPOSALS },
      // statuses would only add load this bench does not measure
      statusDelaysMs: { sent: 0, delivered: 0, read: null },
      quiet: true,
    });
    return graph;
  },
});
apiSecret = ch.stack.secrets.shopify_api_secret;
shopify.rotateSecret(apiSecret);
shopify.setAppUrl(ch.appUrl);

/** Installs the plugin for the shop as the local stack's seed does, then connects it. */
async function install() {
  await ch.sql(
    `insert into plugin_installations (client_id, plugin_id, enabled, config, routing_key)
     values ($1, 'shopify', true, $2, $3)`,
    [ch.clientId, JSON.stringify({ shop_domain: shop }), shop],
  );
  const token = await sessionToken({ apiKey: LOCAL_SHOPIFY_API_KEY, apiSecret, shop });
  const res = await fetch(`${ch.appUrl}/plugins/shopify/app?shop=${shop}&id_token=${token}`);
  const page = await res.text();
  if (res.status !== 200 || !page.includes("Connected")) {
    throw new Error(`The shop did not connect: ${res.status} ${page.slice(0, 300)}`);
  }
}

let seq = 0;
const sent: Array<{ body: string; at: string }> = [];
/**
 * A unique orders/create delivery, or with --duplicates an earlier order's event under a new
 * delivery id (the same body and X-Shopify-Triggered-At: the same event).
 */
function delivery(): { body: string; topic: string; id: string; at: string } {
  if (duplicateShare > 0 && sent.length && Math.random() < duplicateShare) {
    const earlier = sent[Math.floor(Math.random() * sent.length)];
    return { ...earlier, topic: "orders/create", id: crypto.randomUUID() };
  }
  const n = seq++;
  const id = 6_000_000_000_000 + n;
  const cod = Math.random() < codShare;
  // an Indian mobile number written nationally, as customers type it: 0 98470 0xxxx
  const phone = `0${9_847_000_000 + (n % 1_000_000)}`;
  const now = new Date().toISOString();
  const address = {
    first_name: "Asha",
    last_name: "Kumar",
    address1: `${n} MG Road`,
    city: "Kochi",
    zip: "682001",
    province: "Kerala",
    country: "India",
    country_code: "IN",
    phone: `${phone.slice(0, 6)} ${phone.slice(6)}`,
  };
  const body = JSON.stringify({
    id,
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${1000 + n}`,
    order_number: 1000 + n,
    email: `customer${n}@example.com`,
    phone: null,
    created_at: now,
    updated_at: now,
    currency: "INR",
    presentment_currency: "INR",
    total_price: "1499.00",
    current_total_price: "1499.00",
    financial_status: cod ? "pending" : "paid",
    payment_gateway_names: cod ? ["Cash on Delivery (COD)"] : ["shopify_payments"],
    customer_locale: "en-IN",
    note_attributes: [{ name: "whatsapp_opt_in", value: "true" }],
    customer: {
      id: id + 7,
      email: `customer${n}@example.com`,
      first_name: "Asha",
      last_name: "Kumar",
      phone: null,
      default_address: { country_code: "IN" },
    },
    shipping_address: address,
    billing_address: { ...address, phone: null },
    line_items: [
      { id: id + 1, title: "Cotton kurta", quantity: 1, price: "999.00", sku: "KURTA-M" },
      { id: id + 2, title: "Dupatta", quantity: 1, price: "500.00", sku: "DUP-1" },
    ],
    order_status_url: `https://${shop}/orders/${crypto.randomUUID()}/authenticate`,
    cancelled_at: null,
    fulfillment_status: null,
    tags: "",
    test: false,
  });
  if (sent.length < 10_000) sent.push({ body, at: now });
  return { body, topic: "orders/create", id: crypto.randomUUID(), at: now };
}

const url = `${ch.appUrl}/webhooks/shopify`;
/** Shopify's signature, with node:crypto (cheaper per call for the load generator) */
const sign = (body: string) => createHmac("sha256", apiSecret).update(body).digest("base64");

try {
  await install();
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: connections });
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  const cpuAtStart = processCpu();
  const started = performance.now();
  const end = started + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const d = delivery();
        bytes += d.body.length;
        const t = performance.now();
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-shopify-topic": d.topic,
              "x-shopify-hmac-sha256": sign(d.body),
              "x-shopify-shop-domain": shop,
              "x-shopify-api-version": "2026-07",
              "x-shopify-webhook-id": d.id,
              "x-shopify-triggered-at": d.at,
            },
            body: d.body,
            client,
          });
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }));
  } finally {
    client.close();
  }
  const elapsed = (performance.now() - started) / 1000;
  const accepted = latencies.length - errors;

  // every acknowledged webhook handled, then every notification at the Graph API emulator
  const { pending } = await ch.inboxDrained();
  const orders = seq;
  const deadline = performance.now() + 300_000;
  let delivered = 0;
  let doneAt = performance.now();
  while (performance.now() < deadline) {
    delivered = graph!.messages().filter((m) => m.type === "template").length;
    doneAt = performance.now();
    if (delivered >= orders) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const cpu = cpuPerUnit(cpuAtStart, processCpu(), [
    ["app", (_pid, cmd) => cmd.includes("src/entry/deno.ts") || cmd.includes("workerd")],
    ["PostgREST", (_pid, cmd) => cmd.includes("postgrest")],
    ["PostgreSQL", (_pid, cmd) => cmd.includes("postgres")],
    ["this process (gateway, emulators, load)", (pid) => pid === Deno.pid],
  ], accepted);
  const [journal] = await ch.sql<{ sent: string; suppressed: string }>(
    `select count(*) filter (where outcome = 'sent') as sent,
            count(*) filter (where outcome = 'suppressed') as suppressed
       from plugin_journal where kind <> 'version'`,
  );
  const total = (doneAt - started) / 1000;
  console.log(
    `| runtime | connections | webhooks acknowledged/s | p50 | p99 | errors | orders | notifications sent | end-to-end/s |
|---|---|---|---|---|---|---|---|---|
| ${runtime} | ${connections} | ${(accepted / elapsed).toFixed(0)} | ${
      percentile(latencies, 50).toFixed(1)
    } ms | ${
      percentile(latencies, 99).toFixed(1)
    } ms | ${errors} | ${orders} | ${delivered} of ${orders}${
      delivered === orders ? "" : " (NOT ALL)"
    } | ${(delivered / total).toFixed(0)} |`,
  );
  console.log(
    `\n${accepted} webhooks of ~${Math.round(bytes / Math.max(1, latencies.length))} B in ${
      elapsed.toFixed(1)
    } s (${orders} orders, ${
      accepted - orders
    } duplicate deliveries); ${pending} left in the inbox; journal: ${journal.sent} sent, ${journal.suppressed} suppressed; every notification at the Graph API emulator after ${
      total.toFixed(1)
    } s. Load average ${loadAverage()}.`,
  );
  console.log(`\nCPU per webhook, load and processing: ${cpu}`);
  if (delivered !== orders || errors > 0) Deno.exitCode = 1;
} finally {
  await ch.close();
  await shopify.close();
}
