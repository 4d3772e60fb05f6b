import { createHmac } from "node:crypto";
import { parseArgs } from "node:util";
import { buildStatus } from "../tests/_support/meta_payloads.ts";
import { benchChannel } from "./channel_stack.ts";

const HELP = `deno run -A bench/status_hot_updates.ts [--messages N] [--content-bytes B]

How many of the row updates that status webhooks make to \`messages\` PostgreSQL writes in place
(HOT: no new index entries). Seeds N accepted outbound messages (content B bytes each, as stored
ciphertext), posts signed sent, delivered and read webhooks for each through the app, waits until
they are processed, and reads pg_stat_user_tables (n_tup_upd, n_tup_hot_upd) before and after.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "200" },
    "content-bytes": { type: "string", default: "600" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const count = Math.min(20_000, Number(values.messages));
const contentBytes = Math.min(10_000, Number(values["content-bytes"]));

const ch = await benchChannel({ runtime: "deno" });
try {
  const seeded = await ch.sql<{ id: string; wamid: string; recipient: string }>(
    `insert into messages (client_id, phone_number_id, direction, wamid, type, status, recipient,
       content_ciphertext)
     select p.client_id, p.id, 'outbound', 'wamid.HOT' || g, 'template', 'accepted',
       '4477' || lpad(g::text, 8, '0'), repeat('x', $2)
       from generate_series(1, $3) g, phone_numbers p where p.client_id = $1
     returning id, wamid, recipient`,
    [ch.clientId, contentBytes, count],
  );
  // statistics reach pg_stat_user_tables within PGSTAT_IDLE_INTERVAL (10 s) of a backend going idle
  const settle = () => new Promise((r) => setTimeout(r, 11_000));
  const counters = async () =>
    (await ch.sql<{ upd: string; hot: string }>(
      "select n_tup_upd as upd, n_tup_hot_upd as hot from pg_stat_user_tables where relname = 'messages'",
    ))[0];
  await settle();
  const before = await counters();
  const secret = ch.stack.secrets.meta_app_secret;
  for (const status of ["sent", "delivered", "read"] as const) {
    for (const m of seeded) {
      const body = JSON.stringify({
        object: "whatsapp_business_account",
        entry: [{
          id: ch.wabaId,
          changes: [{
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550001111", phone_number_id: ch.phoneNumberId },
              statuses: [
                buildStatus({ id: m.wamid, status, recipientId: m.recipient, callback: m.id }),
              ],
            },
          }],
        }],
      });
      const res = await fetch(`${ch.appUrl}/webhooks/whatsapp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-hub-signature-256": `sha256=${
            createHmac("sha256", secret).update(body).digest("hex")
          }`,
        },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`Webhook answered ${res.status}`);
    }
    // one status at a time per message, as Meta sends them
    const { pending } = await ch.inboxDrained({ pollMs: 100 });
    if (pending) throw new Error(`${pending} deliveries were still unprocessed after 5 minutes`);
  }
  const [read] = await ch.sql<{ n: string }>(
    "select count(*) as n from messages where status = 'read' and wamid like 'wamid.HOT%'",
  );
  await settle();
  const after = await counters();
  const updates = Number(after.upd) - Number(before.upd);
  const hot = Number(after.hot) - Number(before.hot);
  console.log(
    `${count} messages of ${contentBytes} B content, ${read.n} ended read: ${updates} row updates, ${hot} of them HOT (${
      (100 * hot / Math.max(1, updates)).toFixed(0)
    } %)`,
  );
} finally {
  await ch.close();
}
