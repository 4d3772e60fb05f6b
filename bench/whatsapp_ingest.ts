import { parseArgs } from "node:util";
import { createHmac } from "node:crypto";
import { buildStatus } from "../tests/_support/meta_payloads.ts";
import { benchChannel } from "./channel_stack.ts";
import { loadAverage, percentile } from "./stats.ts";

const HELP =
  `deno run -A bench/whatsapp_ingest.ts [--connections N] [--seconds S] [--runtime deno|workerd]

Ingest throughput of the whole local stack on this machine: a throwaway PostgreSQL + PostgREST, the
app as its own process, and a closed-loop client posting unique signed inbound-message webhooks
(~4 KB each, several messages per delivery) to POST /webhooks/whatsapp. Reports accepted
webhooks/s with p50/p99 answer latency, then how long the consumer took to finish processing
everything that was acknowledged (end-to-end processed/s). Traffic goes to 127.0.0.1 only.
--events N puts N events in each delivery (default 4, about 4 KB of messages; Meta usually sends
one event per delivery, so --events 1 is the commoner shape, about 1.2 KB).
--statuses P makes P % of the deliveries carry status events instead of messages (sent, then delivered, then read)
for 20,000 outbound messages seeded before the run (and analysed, as a live table would be),
matched by wamid and by our id in biz_opaque_callback_data, as Meta sends them.
--pg-stats loads pg_stat_statements and prints the statements that took the most database time.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "32" },
    seconds: { type: "string", default: "15" },
    runtime: { type: "string", default: "deno" },
    statuses: { type: "string", default: "0" },
    events: { type: "string", default: "4" },
    "pg-stats": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const connections = Math.min(256, Number(values.connections));
const seconds = Math.min(120, Number(values.seconds));
const runtime = values.runtime === "workerd" ? "workerd" : "deno";

const perDelivery = Math.min(50, Math.max(1, Number(values.events)));
const statusShare = Math.min(100, Math.max(0, Number(values.statuses))) / 100;

const ch = await benchChannel({ runtime, pgStats: values["pg-stats"] });
const { phoneNumberId, wabaId } = ch;

// messages the statuses are about: sent earlier through the pipeline, accepted with a wamid
const outbound = statusShare > 0
  ? await ch.sql<{ id: string; wamid: string; recipient: string }>(
    `insert into messages (client_id, phone_number_id, direction, wamid, type, status, recipient)
     select p.client_id, p.id, 'outbound', 'wamid.OUT' || g, 'template', 'accepted',
       '4477' || lpad(g::text, 8, '0')
       from generate_series(1, 20000) g, phone_numbers p where p.client_id = $1
     returning id, wamid, recipient`,
    [ch.clientId],
  )
  : [];
if (outbound.length) await ch.sql("analyze messages");
const STEPS = ["sent", "delivered", "read"] as const;
let statusSeq = 0;
let statusDeliveries = 0;

/** A delivery of status events, each for the next seeded message, in sent → read order. */
function statusDelivery(): string {
  statusDeliveries++;
  const statuses = Array.from({ length: perDelivery }, () => {
    const k = statusSeq++;
    const m = outbound[k % outbound.length];
    return buildStatus({
      id: m.wamid,
      status: STEPS[Math.floor(k / outbound.length) % STEPS.length],
      recipientId: m.recipient,
      callback: m.id,
      conversationId: `conv-${m.id}`,
    });
  });
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{
      id: wabaId,
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
          statuses,
        },
      }],
    }],
  });
}

let seq = 0;
/** A unique delivery: inbound text messages (~1 KB each) from different customers. */
function delivery(): string {
  if (statusShare > 0 && Math.random() < statusShare) return statusDelivery();
  const messages = Array.from({ length: perDelivery }, (_, i) => ({
    from: `4477009${String((seq * perDelivery + i) % 100000).padStart(5, "0")}`,
    id: `wamid.BENCH${seq}_${i}_${crypto.randomUUID().replaceAll("-", "")}`,
    timestamp: String(Math.floor(Date.now() / 1000)),
    type: "text",
    text: { body: `Order question ${seq}/${i}: ${"lorem ipsum dolor sit amet ".repeat(28)}` },
  }));
  seq++;
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{
      id: wabaId,
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
          contacts: messages.map((m) => ({ profile: { name: "Customer" }, wa_id: m.from })),
          messages,
        },
      }],
    }],
  });
}

const secret = ch.stack.secrets.meta_app_secret;
const url = `${ch.appUrl}/webhooks/whatsapp`;
const client = Deno.createHttpClient({ poolMaxIdlePerHost: connections });
const latencies: number[] = [];
let errors = 0;
let bytes = 0;
try {
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const body = delivery();
      bytes += body.length;
      // signed as Meta signs (HMAC-SHA256 of the UTF-8 body under the App Secret), with
      // node:crypto: Web Crypto with a key import per call cost the load generator ~0.2 ms a
      // delivery on this VM, CPU taken from the stack under test
      const sig = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      const t = performance.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-hub-signature-256": sig },
          body,
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
  const elapsed = (performance.now() - started) / 1000;
  const accepted = latencies.length - errors;

  // wait for the consumer to finish everything acknowledged
  let pending = Infinity;
  let processedAt = performance.now();
  const deadline = performance.now() + 300_000;
  while (pending > 0 && performance.now() < deadline) {
    const [row] = await ch.sql<{ n: string }>(
      "select count(*) as n from webhook_inbox where processed_at is null",
    );
    pending = Number(row.n);
    processedAt = performance.now();
    if (pending > 0) await new Promise((r) => setTimeout(r, 250));
  }
  const [inbound] = await ch.sql<{ n: string }>(
    "select count(*) as n from messages where direction = 'inbound'",
  );
  const stored = Number(inbound.n);
  const [events] = await ch.sql<{ n: string }>(
    "select count(*) as n from message_status_events",
  );
  const total = (processedAt - started) / 1000;
  console.log(
    `| runtime | connections | webhooks acknowledged/s | p50 | p99 | errors | processed end-to-end/s | messages stored |
|---|---|---|---|---|---|---|---|
| ${runtime} | ${connections} | ${(accepted / elapsed).toFixed(0)} | ${
      percentile(latencies, 50).toFixed(1)
    } ms | ${percentile(latencies, 99).toFixed(1)} ms | ${errors} | ${
      (accepted / total).toFixed(0)
    } (${pending} left) | ${stored} |`,
  );
  console.log(
    `\n${accepted} deliveries of ~${Math.round(bytes / latencies.length)} B in ${
      elapsed.toFixed(1)
    } s (${statusDeliveries} of them with statuses: ${events.n} status events stored); all processed after ${
      total.toFixed(1)
    } s. ${loadAverage()}`,
  );
  if (values["pg-stats"]) console.log(`\n${await ch.topStatements()}`);
} finally {
  client.close();
  await ch.close();
}
