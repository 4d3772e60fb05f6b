import { parseArgs } from "node:util";
import { join } from "node:path";
import { startGraphEmulator } from "./emulators/graph_api.ts";
import { DEMO, ensureDemoCredentials } from "./stack/demo.ts";
import { acquireLock } from "./stack/lock.ts";
import { DEV_PORTS, ROOT, spawnChild, startStack, waitForHttp } from "./stack/mod.ts";

const HELP = `deno task dev [options]

Starts the whole local stack on this machine: embedded PostgreSQL (data kept in .dev/),
migrations and seed, PostgREST behind a Supabase-style /rest/v1 gateway, the Graph API emulator
and the app. Writes .dev/stack.json with everything a script needs. Ctrl-C stops it all.

Options:
  --workers        run the app in workerd (wrangler dev) instead of Deno
  --port N         app port (default: $PORT or 8787)
  --emulator-port N  Graph API emulator port (default 8790)
  --dir PATH       where data and secrets live (default .dev)
  -h, --help       show this help

Ports used: app 8787, Supabase API 54321, PostgreSQL 54322, PostgREST 54330/54331, emulator 8790.`;

function fail(message: string): never {
  console.error(`dev: ${message}`);
  Deno.exit(1);
}

let args;
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      workers: { type: "boolean", default: false },
      port: { type: "string" },
      "emulator-port": { type: "string", default: "8790" },
      dir: { type: "string", default: join(ROOT, ".dev") },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (error) {
  fail(`${(error as Error).message}\n\n${HELP}`);
}
if (args.help) {
  console.log(HELP);
  Deno.exit(0);
}

const appPort = Number(args.port ?? Deno.env.get("PORT") ?? 8787);
const emulatorPort = Number(args["emulator-port"]);
if (!Number.isInteger(appPort) || !Number.isInteger(emulatorPort)) fail("ports must be integers");
const dir = args.dir;
await Deno.mkdir(dir, { recursive: true });

const lock = acquireLock(join(dir, "stack.lock"));
if ("heldBy" in lock) {
  fail(
    `a stack is already running from ${dir} (pid ${lock.heldBy}). ` +
      `Stop it with Ctrl-C in its terminal or \`kill ${lock.heldBy}\`, or use --dir for a second one.`,
  );
}

function portInUse(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch {
    return true;
  }
}
const busy = [appPort, emulatorPort, ...Object.values(DEV_PORTS)].filter(portInUse);
if (busy.length) {
  lock.release();
  fail(`port(s) ${busy.join(", ")} already in use. Free them or pass --port / --emulator-port.`);
}

const log = (line: string) => console.log(`[stack] ${line}`);
const stoppers: Array<() => Promise<void>> = [];
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log("stopping…");
  for (const s of stoppers.reverse()) await s().catch(() => {});
  lock.release();
  try {
    Deno.removeSync(join(dir, "stack.json"));
  } catch { /* not written yet */ }
  log("stopped");
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => shutdown(0));
Deno.addSignalListener("SIGTERM", () => shutdown(0));

try {
  const stack = await startStack({ dir, ports: DEV_PORTS, seed: true, log });
  stoppers.push(stack.stop);
  const demo = await ensureDemoCredentials(stack, join(dir, "demo.json"));
  const appUrl = `http://127.0.0.1:${appPort}`;

  const emulator = await startGraphEmulator({
    port: emulatorPort,
    appSecret: stack.secrets.meta_app_secret,
    webhookUrl: `${appUrl}/webhooks/whatsapp`,
    tokens: { [DEMO.phone_number_id]: stack.secrets.graph_access_token },
    wabaIdFor: () => DEMO.waba_id,
    quiet: true,
  });
  stoppers.push(() => emulator.close());
  log(`Graph API emulator on ${emulator.url}`);

  const env = {
    ...stack.appEnv,
    GRAPH_API_BASE_URL: emulator.url,
    PUBLIC_BASE_URL: appUrl,
  };
  const appLog = (line: string) => console.log(`[app] ${line}`);
  let app;
  if (args.workers) {
    const envFile = join(dir, "workers.env");
    await Deno.writeTextFile(
      envFile,
      Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n",
      { mode: 0o600 },
    );
    log(`starting the app in workerd (wrangler dev) on ${appUrl}`);
    app = spawnChild("wrangler", Deno.execPath(), [
      "run",
      "-A",
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(appPort),
      "--env-file",
      envFile,
      "--test-scheduled",
      "--show-interactive-dev-session=false",
      "--persist-to",
      join(dir, "wrangler"),
    ], {
      env: { ...Deno.env.toObject(), WRANGLER_SEND_METRICS: "false", CI: "1" },
      cwd: ROOT,
      log: appLog,
    });
  } else {
    log(`starting the app on Deno at ${appUrl}`);
    app = spawnChild(Deno.execPath(), Deno.execPath(), [
      "run",
      "-A",
      join(ROOT, "src/entry/deno.ts"),
    ], { env: { ...Deno.env.toObject(), ...env, PORT: String(appPort) }, cwd: ROOT, log: appLog });
  }
  stoppers.push(() => app.stop());
  await waitForHttp(`${appUrl}/healthz`, "The app", 60_000);

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
    shopify_api_secret: stack.secrets.shopify_api_secret,
    shop_domain: DEMO.shop_domain,
    runtime: args.workers ? "workerd" : "deno",
    pids: [Deno.pid, ...stack.pids, app.pid],
  };
  await Deno.writeTextFile(join(dir, "stack.json"), JSON.stringify(info, null, 2), { mode: 0o600 });
  console.log(`
glooft-edge is running (${info.runtime}).
  App          ${appUrl}   (API docs: ${appUrl}/docs)
  Emulator     ${emulator.url}/__emulator/messages
  Supabase API ${stack.supabaseUrl}/rest/v1
  Demo API key and secrets: ${join(dir, "stack.json")}
  Try: curl -H "Authorization: Bearer $(jq -r .api_key ${join(dir, "stack.json")})" ${appUrl}/v1/me
Press Ctrl-C to stop.`);
} catch (error) {
  console.error(`dev: could not start the stack: ${(error as Error).message}`);
  await shutdown(1);
}
