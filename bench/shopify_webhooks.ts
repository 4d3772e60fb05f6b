import { parseArgs } from "node:util";
import { createHmac } from "node:crypto";
import { startGraphEmulator } from "../tools/emulators/graph_api.ts";
import { sessionToken, startShopifyEmulator } from "../tools/emulators/shopify.ts";
import { LOCAL_SHOPIFY_API_KEY } from "../tools/stack/mod.ts";
import { APPROVED_PROPOSALS } from "../plugins/shopify/templates.ts";
import { benchChannel } from "./channel_stack.ts";
import { cpuPerUnit, loadAverage, percentile, processCpu } from "./stats.ts";
import { hasWrk, replayScript, runWrk } from "./wrk.ts";

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
  --phases          hold the handling back while the load runs, then let it go: the
                    acknowledgement (the fetch) and the handling (the consumer) timed apart, as
                    on Workers, where they run in separate invocations. Without it both share
                    this machine's cores, as on a single Deno process
  --loadgen L       wrk (default when installed: apt-get install wrk) replays deliveries
                    prepared and signed before the clock starts, from its own process; deno
                    posts them from this process, which also runs the gateway and emulators
  --pg-stats        load pg_stat_statements and print the statements that took the most
                    database time
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
    phases: { type: "boolean", default: false },
    loadgen: { type: "string" },
    "pg-stats": { type: "boolean", default: false },
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
const phases = values.phases;
const loadgen = values.loadgen ?? (await hasWrk() ? "wrk" : "deno");
if (loadgen !== "wrk" && loadgen !== "deno") throw new Error("--loadgen is wrk or deno");
if (loadgen === "wrk" && !await hasWrk()) {
  throw new Error("wrk is not installed (apt-get install wrk)");
}

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
  holdJobs: phases,
  pgStats: values["pg-stats"],
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

/** the most webhooks per second this machine could acknowledge: deliveries are made for that */
const RATE_CEILING = 5000;
/** past orders the shop has before the run (seedHistory) */
const HISTORY = 20_000;

type LoadOutcome = { accepted: number; errors: number; elapsed: number; p50: number; p99: number };

/** A closed loop of `connections` fetches from this process. */
async function denoLoad(): Promise<LoadOutcome> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: connections });
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const d = delivery();
        const t = performance.now();
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { ...FIXED_HEADERS, ...headersOf(d) },
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
  return {
    accepted: latencies.length - errors,
    errors,
    elapsed: (performance.now() - started) / 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** wrk from its own process, replaying deliveries prepared and signed before the clock starts. */
async function wrkLoad(): Promise<LoadOutcome> {
  const dir = await Deno.makeTempDir({ prefix: "shopify-wrk-" });
  try {
    const made = Array.from({ length: RATE_CEILING * seconds }, () => delivery());
    const names = Object.keys(headersOf(made[0]));
    const { script } = await replayScript(
      dir,
      names,
      made.map((d) => ({ values: Object.values(headersOf(d)), body: d.body })),
      FIXED_HEADERS,
    );
    const r = await runWrk({ url, connections, seconds, script, timeoutSeconds: 10 });
    if (r.wrapped) console.warn("wrk ran out of prepared deliveries and repeated some");
    return {
      accepted: r.requests - r.errors,
      errors: r.errors,
      elapsed: seconds,
      p50: r.p50Ms,
      p99: r.p99Ms,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const FIXED_HEADERS = {
  "content-type": "application/json",
  "x-shopify-topic": "orders/create",
  "x-shopify-shop-domain": shop,
  "x-shopify-api-version": "2026-07",
};
const headersOf = (d: ReturnType<typeof delivery>) => ({
  "x-shopify-hmac-sha256": sign(d.body),
  "x-shopify-webhook-id": d.id,
  "x-shopify-triggered-at": d.at,
});

/** orders the journal has a version of: the history's and those handled since */
const ordersInJournal = async () =>
  Number(
    (await ch.sql<{ n: string }>(
      "select count(*) as n from plugin_journal where key like 'order:%'",
    ))[0].n,
  );

/**
 * A merchant that has been running a while, as a live database holds it: past orders' messages,
 * contacts and journal entries, then ANALYZE. On empty tables without statistics the planner
 * reads a journal entry or an Idempotency-Key through the client's whole index instead of the
 * unique one, and each order costs more than the one before: the first minutes of a new
 * deployment, until autovacuum's ANALYZE, not a working shop.
 */
async function seedHistory(orders: number) {
  await ch.seedHistory(orders, "9198");
  await ch.sql(
    `insert into plugin_journal (client_id, plugin_id, key, kind, outcome, version, created_at)
     select $1, 'shopify', 'order:' || (5000000000000 + g), 'version', 'done',
       1e13::bigint + g, now() - make_interval(mins => g)
       from generate_series(1, $2) g`,
    [ch.clientId, orders],
  );
  await ch.sql(
    `insert into plugin_journal (client_id, plugin_id, key, kind, outcome, subject, recipient,
       created_at)
     select $1, 'shopify', 'order_confirmation:' || (5000000000000 + g), 'order_confirmation',
       'sent', '#' || g, '9198' || lpad(g::text, 8, '0'), now() - make_interval(mins => g)
       from generate_series(1, $2) g`,
    [ch.clientId, orders],
  );
  await ch.sql("analyze plugin_journal");
}

try {
  await install();
  await seedHistory(HISTORY);
  const cpuAtStart = processCpu();
  const started = performance.now();
  const load = loadgen === "wrk" ? await wrkLoad() : await denoLoad();
  const { accepted, errors, elapsed } = load;
  const cpuAfterLoad = processCpu();
  const releasedAt = performance.now();
  if (phases) ch.releaseJobs();

  // every acknowledged webhook handled, then every notification at the Graph API emulator: as
  // many as the orders the journal holds (wrk may have sent a few more than it counted)
  const { pending } = await ch.inboxDrained({ timeoutMs: 1_200_000 });
  const ordersHandled = async () => await ordersInJournal() - HISTORY;
  const deadline = performance.now() + 600_000;
  let delivered = 0;
  let orders = await ordersHandled();
  let doneAt = performance.now();
  while (performance.now() < deadline) {
    delivered = graph!.messages().filter((m) => m.type === "template").length;
    doneAt = performance.now();
    if (delivered >= orders) break;
    await new Promise((r) => setTimeout(r, 250));
    orders = await ordersHandled();
  }
  const roles: Parameters<typeof cpuPerUnit>[2] = [
    ["app", (_pid, cmd) =>
      cmd.includes("src/entry/deno.ts") || cmd.includes("deno_held_jobs") ||
      cmd.includes("workerd")],
    ["PostgREST", (_pid, cmd) => cmd.includes("postgrest")],
    ["PostgreSQL", (_pid, cmd) => cmd.includes("postgres")],
    ["this process (gateway, emulators, load)", (pid) => pid === Deno.pid],
  ];
  const cpuEnd = processCpu();
  const [journal] = await ch.sql<{ sent: string; suppressed: string }>(
    `select count(*) filter (where outcome = 'sent') - $1 as sent,
            count(*) filter (where outcome = 'suppressed') as suppressed
       from plugin_journal where kind <> 'version'`,
    [HISTORY],
  );
  const total = (doneAt - started) / 1000;
  const handling = (doneAt - releasedAt) / 1000;
  console.log(
    `| runtime | load | connections | webhooks acknowledged/s | p50 | p99 | errors | orders | notifications sent | ${
      phases ? "handled after the load, notifications/s" : "end-to-end/s"
    } |
|---|---|---|---|---|---|---|---|---|---|
| ${runtime} | ${loadgen}${phases ? ", phases" : ""} | ${connections} | ${
      (accepted / elapsed).toFixed(0)
    } | ${load.p50.toFixed(1)} ms | ${
      load.p99.toFixed(1)
    } ms | ${errors} | ${orders} | ${delivered} of ${orders}${
      delivered === orders ? "" : " (NOT ALL)"
    } | ${(delivered / (phases ? handling : total)).toFixed(0)} |`,
  );
  console.log(
    `\n${accepted} webhooks in ${
      elapsed.toFixed(1)
    } s (${orders} orders); ${pending} left in the inbox; journal: ${journal.sent} sent, ${journal.suppressed} suppressed; every notification at the Graph API emulator after ${
      total.toFixed(1)
    } s${
      phases ? ` (${handling.toFixed(1)} s after the handling was let go)` : ""
    }. Load average ${loadAverage()}.`,
  );
  if (phases) {
    console.log(
      `\nCPU per webhook acknowledged, during the load: ${
        cpuPerUnit(cpuAtStart, cpuAfterLoad, roles, accepted)
      }`,
    );
    console.log(
      `CPU per order handled and sent, after it: ${
        cpuPerUnit(cpuAfterLoad, cpuEnd, roles, delivered)
      }`,
    );
  } else {
    console.log(
      `\nCPU per webhook, load and processing: ${cpuPerUnit(cpuAtStart, cpuEnd, roles, accepted)}`,
    );
  }
  if (values["pg-stats"]) console.log(`\n${await ch.topStatements(15)}`);
  if (delivered !== orders || errors > 0) Deno.exitCode = 1;
} finally {
  await ch.close();
  await shopify.close();
}
