import { parseArgs } from "node:util";
import { startGraphEmulator } from "../tools/emulators/graph_api.ts";
import { benchChannel } from "./channel_stack.ts";
import { loadAverage, percentile } from "./stats.ts";

const HELP = `deno run -A bench/whatsapp_send.ts [--messages N] [--connections C]
  [--runtime deno|workerd|wrangler]

Send pipeline throughput on the local stack: C clients post N template messages (distinct
recipients) to POST /v1/messages; the app's pipeline claims, paces, sends them to the Graph API
emulator and records the answers. Reports API accept rate (202/s, p50/p99) and the pipeline's
rate: messages accepted by the emulator per second, first request to last acceptance, and its
sustained rate: the middle 80 % of acceptances (10th to 90th percentile by time, so without the
ramp-up and the drain) over the time they span, with the slowest and fastest whole second in it.
Per-recipient pacing is off (distinct recipients); per-number pacing is 1,000/s (Meta's highest
per-number throughput). --numbers N gives the client N numbers and spreads the messages over them,
to see what the pipeline does above one number's cap. 127.0.0.1 only.
Before the run the client is given a history, as a live client has: 20,000 earlier messages to
other contacts, and the tables analysed (a live database has statistics).
--runtime workerd runs the deploy bundle in workerd alone, its queue consumer driven as Cloudflare
drives it (batches of wrangler.toml's max_batch_size); wrangler runs wrangler dev.
--pg-stats loads pg_stat_statements and prints the statements that took the most database time.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "3000" },
    connections: { type: "string", default: "32" },
    runtime: { type: "string", default: "deno" },
    "pg-stats": { type: "boolean", default: false },
    numbers: { type: "string", default: "1" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const total = Math.min(20_000, Number(values.messages));
const connections = Math.min(256, Number(values.connections));
const runtime = (["deno", "workerd", "wrangler"] as const).find((r) => r === values.runtime);
if (!runtime) throw new Error("--runtime must be deno, workerd or wrangler");

let emulator: Awaited<ReturnType<typeof startGraphEmulator>> | undefined;
const ch = await benchChannel({
  runtime,
  pgStats: values["pg-stats"],
  numbers: Math.min(10, Math.max(1, Number(values.numbers))),
  env: { RECIPIENT_MIN_INTERVAL_MS: "0" },
  graph: async (_webhookUrl, ids) => {
    emulator = await startGraphEmulator({
      port: 0,
      appSecret: "unused-no-webhooks",
      tokens: Object.fromEntries(ids.phoneNumberIds.map((id) => [id, ids.token])),
      quiet: true,
      // status webhooks off: this measures the send path alone
      webhookUrl: undefined,
      // the template the messages use; the app's store learns it from the first sends' sync
      wabaIdFor: () => ids.wabaId,
      templates: {
        [ids.wabaId]: [{ name: "order_update", components: [{ type: "BODY", text: "Shipped." }] }],
      },
    });
    return emulator;
  },
});
const HISTORY_PREFIX = "4478";
await ch.seedHistory(20_000, HISTORY_PREFIX);
const client = Deno.createHttpClient({ poolMaxIdlePerHost: connections });
try {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      const res = await fetch(`${ch.appUrl}/v1/messages`, {
        method: "POST",
        client,
        headers: { authorization: `Bearer ${ch.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          to: `44770${String(i).padStart(7, "0")}`,
          phone_number_id: ch.phoneNumberIds[i % ch.phoneNumberIds.length],
          type: "template",
          template: { name: "order_update", language: { code: "en_US" } },
        }),
      });
      await res.arrayBuffer();
      if (res.status !== 202) errors++;
      latencies.push(performance.now() - t);
    }
  }));
  const enqueued = (performance.now() - started) / 1000;
  const deadline = performance.now() + 300_000;
  while (emulator!.messages().length < total - errors && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const done = (performance.now() - started) / 1000;
  const sent = emulator!.messages().length;
  const steady = sustainedRate(emulator!.messages().map((m) => Date.parse(m.receivedAt)));
  // the last results may still be on their way to the database when the emulator has them all
  const accepted = () =>
    ch.sql<{ accepted: string }>(
      `select count(*) filter (where status = 'accepted') as accepted from messages
        where recipient not like $1`,
      [`${HISTORY_PREFIX}%`],
    );
  let [row] = await accepted();
  for (let i = 0; i < 100 && Number(row.accepted) < sent; i++) {
    await new Promise((r) => setTimeout(r, 100));
    [row] = await accepted();
  }
  console.log(
    `| runtime | messages | connections | API 202/s | p50 | p99 | errors | pipeline sent/s | sustained sent/s (slowest–fastest second) | recorded accepted |
|---|---|---|---|---|---|---|---|---|---|
| ${runtime} | ${total} | ${connections} | ${((total - errors) / enqueued).toFixed(0)} | ${
      percentile(latencies, 50).toFixed(1)
    } ms | ${percentile(latencies, 99).toFixed(1)} ms | ${errors} | ${(sent / done).toFixed(0)} | ${
      steady.rate.toFixed(0)
    } (${steady.slowest}–${steady.fastest}) | ${row.accepted} |`,
  );
  console.log(
    `\nAll ${sent} at the emulator after ${done.toFixed(1)} s (requests done after ${
      enqueued.toFixed(1)
    } s). ${loadAverage()}`,
  );
  if (values["pg-stats"]) console.log(`\n${await ch.topStatements()}`);
} finally {
  client.close();
  await ch.close();
}

/**
 * The rate between the 10th and 90th percentile acceptance (ramp-up and drain left out), and the
 * counts of the slowest and fastest whole seconds inside that span.
 */
function sustainedRate(times: number[]): { rate: number; slowest: number; fastest: number } {
  const sorted = [...times].sort((a, b) => a - b);
  if (sorted.length < 10) return { rate: 0, slowest: 0, fastest: 0 };
  const from = Math.floor(sorted.length * 0.1);
  const to = Math.floor(sorted.length * 0.9);
  const span = Math.max(1, sorted[to] - sorted[from]);
  const perSecond = new Map<number, number>();
  for (const t of sorted.slice(from, to + 1)) {
    const s = Math.floor(t / 1000);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  // the first and last seconds of the span are partial
  const whole = [...perSecond.entries()].sort((a, b) => a[0] - b[0]).slice(1, -1).map((e) => e[1]);
  return {
    rate: ((to - from) * 1000) / span,
    slowest: whole.length ? Math.min(...whole) : 0,
    fastest: whole.length ? Math.max(...whole) : 0,
  };
}
