import { join } from "node:path";
import { createApiKey } from "../src/adapters/supabase/api_keys_store.ts";
import { dataKeys } from "../src/adapters/supabase/data_keys.ts";
import { importPepper, SCOPES } from "../src/core/auth/api_keys.ts";
import { encryptField, parseKeyring } from "../src/core/crypto/envelope.ts";
import { createClient } from "@supabase/supabase-js";
import { withAdmin } from "../tools/stack/database.ts";
import { freePort, freePorts, ROOT, startStack } from "../tools/stack/mod.ts";
import { type AppProcess, startAppProcess } from "../tools/stack/app_process.ts";
import { waitForHttp } from "../tools/stack/postgrest.ts";
import { startWorkerApp } from "./workerd.ts";

/**
 * deno: src/entry/deno.ts; workerd: the deploy bundle in workerd alone, its queue consumer driven
 * as Cloudflare drives it (bench/workerd.ts); wrangler: wrangler dev (workerd behind wrangler's
 * proxy, its local queue).
 */
export type BenchRuntime = "deno" | "workerd" | "wrangler";

/**
 * For load runs: a throwaway local stack, one client with a WhatsApp number (its access token
 * encrypted as in production) and an API key, and the app as its own process on `runtime`.
 */
export async function benchChannel(options: {
  runtime: BenchRuntime;
  /**
   * deno and workerd: jobs wait until releaseJobs(), so that acknowledging and processing can be
   * timed apart (Deno runs bench/deno_held_jobs.ts; workerd's queue holds its consumer)
   */
  holdJobs?: boolean;
  /** workerd: consumer batches running at once (default 4) */
  consumerConcurrency?: number;
  /** workerd: open its inspector (inspectorPort()), to profile the Worker */
  inspect?: boolean;
  /** load pg_stat_statements, so `topStatements()` can say where the database's time went */
  pgStats?: boolean;
  env?: Record<string, string>;
  /** WhatsApp numbers of the client (default 1), each paced at 1,000/s */
  numbers?: number;
  graph?: (
    appWebhookUrl: string,
    ids: {
      phoneNumberId: string;
      phoneNumberIds: string[];
      token: string;
      wabaId: string;
      /** what signs the webhooks the app accepts */
      appSecret: string;
    },
  ) => Promise<{ url: string; close(): Promise<void> }>;
  /** where the stack's and the app's output goes (default: nowhere) */
  log?: (line: string) => void;
}) {
  const dir = join(ROOT, ".dev", `bench-${Date.now()}-${Deno.pid}`);
  const stack = await startStack({
    dir,
    ports: await freePorts(),
    seed: false,
    log: options.log ?? (() => {}),
    postgresSettings: options.pgStats
      ? ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"]
      : [],
  });
  if (options.pgStats) {
    await withAdmin(stack.adminDbUrl, (c) => c.query("create extension pg_stat_statements"));
  }
  const phoneNumberIds = Array.from(
    { length: Math.max(1, options.numbers ?? 1) },
    (_, k) => String(106540352242999 + k),
  );
  const phoneNumberId = phoneNumberIds[0];
  const wabaId = "102290129340999";
  const token = `EMU-${crypto.randomUUID()}`;
  const service = createClient(stack.supabaseUrl, stack.secrets.service_role_key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const clientId = await withAdmin(stack.adminDbUrl, async (c) => {
    const { rows } = await c.query("insert into clients (name) values ('Bench') returning id");
    return rows[0].id as string;
  });
  const dek = await dataKeys({ keyring: await parseKeyring(stack.secrets.master_keys), service })
    .forClient(clientId);
  await withAdmin(stack.adminDbUrl, async (c) => {
    const w = await c.query(
      "insert into whatsapp_business_accounts (client_id, waba_id, access_token_ciphertext) values ($1, $2, $3) returning id",
      [clientId, wabaId, await encryptField(dek, token, `wa_token:${wabaId}`)],
    );
    for (const [k, id] of phoneNumberIds.entries()) {
      await c.query(
        "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number, messages_per_second) values ($1, $2, $3, $4, 1000)",
        [clientId, w.rows[0].id, id, String(15550001111 + k)],
      );
    }
  });
  const { key } = await createApiKey(service, await importPepper(stack.secrets.api_key_pepper), {
    clientId,
    name: "bench",
    environment: "test",
    scopes: [...SCOPES],
    createdBy: "bench",
  });
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const graph = options.graph
    ? await options.graph(`${appUrl}/webhooks/whatsapp`, {
      phoneNumberId,
      phoneNumberIds,
      token,
      wabaId,
      appSecret: stack.secrets.meta_app_secret,
    })
    : null;
  const env = {
    ...stack.appEnv,
    LOG_LEVEL: "error",
    ...(graph ? { GRAPH_API_BASE_URL: graph.url } : {}),
    ...options.env,
  };
  let worker: Awaited<ReturnType<typeof startWorkerApp>> | null = null;
  const inspectorPort = options.inspect && options.runtime === "workerd"
    ? await freePort()
    : undefined;
  const startApp = async (): Promise<AppProcess> => {
    if (options.runtime === "workerd") {
      if (worker) await worker.restart();
      else {
        worker = await startWorkerApp({
          env,
          port,
          dir: join(dir, "app"),
          held: options.holdJobs,
          concurrency: options.consumerConcurrency,
          inspectorPort,
        });
      }
      await waitForHttp(`${appUrl}/healthz`, "The Worker");
      const w = worker;
      return { name: "workerd", pid: w.pid, runtime: "workerd", url: appUrl, stop: w.stopWorker };
    }
    return await startAppProcess({
      runtime: options.runtime === "wrangler" ? "workerd" : "deno",
      entry: options.runtime === "deno" && options.holdJobs
        ? join(ROOT, "bench/deno_held_jobs.ts")
        : undefined,
      env,
      port,
      dir: join(dir, "app"),
      log: options.log,
    });
  };
  let app: AppProcess | null = await startApp();
  return {
    stack,
    appUrl,
    key,
    clientId,
    phoneNumberId,
    phoneNumberIds,
    wabaId,
    /** the app's process now (null while it is down) */
    app: () => app,
    /** with holdJobs: the jobs held so far run, and the next ones as they come */
    releaseJobs() {
      if (worker) worker.broker.release();
      else if (app) Deno.kill(app.pid, "SIGUSR2");
    },
    /** workerd: messages in its queue, waiting or being consumed (0 elsewhere) */
    queued: () => worker?.broker.pending() ?? 0,
    /** workerd with `inspect`: where its inspector listens */
    inspectorPort: () => inspectorPort ?? null,
    /** workerd: the bundle it runs (its source map beside it) */
    bundle: () => worker?.bundle ?? null,
    /** the app dies at once (SIGKILL): no graceful stop, no last flush */
    async killApp() {
      if (!app) return;
      Deno.kill(app.pid, "SIGKILL");
      await app.stop();
      app = null;
    },
    /** the app starts again on the same port and configuration */
    async restartApp() {
      if (app) await app.stop();
      app = null;
      app = await startApp();
    },
    sql: <T>(text: string, params: unknown[] = []) =>
      withAdmin(stack.adminDbUrl, async (c) => (await c.query(text, params)).rows as T[]),
    /**
     * The client's history, as a live client has it: `count` outbound messages, accepted with a
     * wamid, from the first number to as many contacts (numbers `prefix` + 8 digits), then ANALYZE. A live database
     * has statistics; without them the planner takes the tables for tiny ones and may scan a
     * client's whole index where the primary key would do, which would measure the empty
     * database of a first deployment, not a working one.
     */
    async seedHistory(
      count: number,
      prefix = "4477",
    ): Promise<Array<{ id: string; wamid: string; recipient: string }>> {
      const rows = await withAdmin(stack.adminDbUrl, async (c) =>
        (await c.query(
          `with people as (
             insert into contacts (client_id, wa_id)
             select $1, $2 || lpad(g::text, 8, '0') from generate_series(1, $3) g
             returning id, wa_id
           )
           insert into messages (client_id, phone_number_id, contact_id, direction, wamid, type,
             status, recipient)
           select p.client_id, p.id, c.id, 'outbound', 'wamid.OUT' || c.wa_id, 'template',
             'accepted', c.wa_id
             from people c, phone_numbers p where p.client_id = $1 and p.phone_number_id = $4
           returning id, wamid, recipient`,
          [clientId, prefix, count, phoneNumberId],
        )).rows as Array<{ id: string; wamid: string; recipient: string }>);
      await withAdmin(stack.adminDbUrl, (c) => c.query("analyze contacts, messages"));
      return rows;
    },
    /**
     * Waits until the consumer has processed every recorded delivery, or `timeoutMs` passed;
     * returns what is still pending and performance.now() when that was last counted.
     */
    async inboxDrained(
      options: { pollMs?: number; timeoutMs?: number } = {},
    ): Promise<{ pending: number; at: number }> {
      const deadline = performance.now() + (options.timeoutMs ?? 300_000);
      for (;;) {
        const [row] = await withAdmin(
          stack.adminDbUrl,
          async (c) =>
            (await c.query("select count(*) as n from webhook_inbox where processed_at is null"))
              .rows,
        );
        const pending = Number(row.n);
        const at = performance.now();
        if (pending === 0 || at >= deadline) return { pending, at };
        await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
      }
    },
    /** The statements that took the most database time (needs `pgStats`), as a Markdown table. */
    async topStatements(limit = 12): Promise<string> {
      const rows = await withAdmin(stack.adminDbUrl, async (c) =>
        (await c.query(
          `select calls, round(total_exec_time)::int as total_ms,
             round((total_exec_time / greatest(calls, 1))::numeric, 3) as mean_ms,
             regexp_replace(left(query, 110), '\\s+', ' ', 'g') as query
           from pg_stat_statements order by total_exec_time desc limit $1`,
          [limit],
        )).rows);
      return ["| calls | total ms | mean ms | statement |", "|---:|---:|---:|---|"]
        .concat(rows.map((r) => `| ${r.calls} | ${r.total_ms} | ${r.mean_ms} | \`${r.query}\` |`))
        .join("\n");
    },
    async close() {
      await app?.stop();
      await worker?.stop();
      await graph?.close();
      await stack.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
