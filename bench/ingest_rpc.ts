import { parseArgs } from "node:util";
import pg from "pg";
import { benchChannel } from "./channel_stack.ts";
import { pidCpuMs } from "./stats.ts";

const HELP = `deno run -A bench/ingest_rpc.ts [--events N] [--calls C]

The database's own cost of ingest_whatsapp_batch, with no contention: one connection calls it C
times as the client (role authenticated, the client's JWT claims), each call with N events like
a consumer batch of one-event deliveries (one inbound message from a new contact in four, the rest
status events for the client's 20,000 seeded messages, sent → delivered → read). Prints the wall
time and the backend's CPU per call and per event (from /proc), then pg_stat_statements' top
statements, nested ones included. Traffic goes to 127.0.0.1 only.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "60" },
    calls: { type: "string", default: "300" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const perCall = Math.max(1, Number(values.events));
const calls = Math.max(1, Number(values.calls));

const ch = await benchChannel({ runtime: "deno", pgStats: true });
const history = await ch.seedHistory(20_000);
const [{ id: phoneId }] = await ch.sql<{ id: string }>(
  "select id from phone_numbers where client_id = $1",
  [ch.clientId],
);
const STEPS = ["sent", "delivered", "read"];
let statusSeq = 0;
let messageSeq = 0;
function batch() {
  const messages = [];
  const statuses = [];
  for (let i = 0; i < perCall; i++) {
    if (i % 4 === 0) {
      messageSeq++;
      messages.push({
        id: crypto.randomUUID(),
        phone_number_id: phoneId,
        wa_id: `4477009${String(messageSeq % 100_000).padStart(5, "0")}`,
        user_id: null,
        profile_name_ciphertext: "n".repeat(60),
        wamid: `wamid.IN.${crypto.randomUUID()}`,
        type: "text",
        content_ciphertext: "c".repeat(120),
        media: null,
        context_wamid: null,
        timestamp: new Date().toISOString(),
      });
    } else {
      const m = history[statusSeq % history.length];
      statuses.push({
        wamid: m.wamid,
        status: STEPS[Math.floor(statusSeq / history.length) % STEPS.length],
        occurred_at: new Date(Date.now() + statusSeq).toISOString(),
        pricing: { billable: true, category: "utility", pricing_model: "PMP" },
        errors: null,
        conversation_id: null,
        message_id: m.id,
      });
      statusSeq++;
    }
  }
  return JSON.stringify({ messages, statuses, fields: [] });
}

const db = new pg.Client({ connectionString: ch.stack.adminDbUrl });
await db.connect();
try {
  const claims = JSON.stringify({ role: "authenticated", client_id: ch.clientId });
  const call = async () => {
    await db.query("begin");
    await db.query("set local role authenticated");
    await db.query("select set_config('request.jwt.claims', $1, true)", [claims]);
    await db.query("select public.ingest_whatsapp_batch($1::jsonb)", [batch()]);
    await db.query("commit");
  };
  for (let i = 0; i < 20; i++) await call(); // cached plans, warm buffers
  const pid = (await db.query("select pg_backend_pid() as pid")).rows[0].pid as number;
  const backendCpuMs = () => pidCpuMs(pid);
  await db.query("select pg_stat_statements_reset()");
  const cpu0 = backendCpuMs();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await call();
  const wall = performance.now() - t0;
  const cpu = backendCpuMs() - cpu0;
  console.log(
    `${calls} calls of ${perCall} events: ${
      (wall / calls).toFixed(2)
    } ms wall per call, backend CPU ${(cpu / calls).toFixed(2)} ms per call, ${
      (cpu * 1000 / calls / perCall).toFixed(0)
    } µs per event\n`,
  );
  console.log(await ch.topStatements(14));
} finally {
  await db.end();
  await ch.close();
}
