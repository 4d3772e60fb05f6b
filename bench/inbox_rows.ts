import { parseArgs } from "node:util";
import { base64Encode } from "../src/core/crypto/hmac.ts";
import pg from "pg";
import { benchChannel } from "./channel_stack.ts";
import { pidCpuMs } from "./stats.ts";

const HELP = `deno run -A bench/inbox_rows.ts [--rows N] [--batch B] [--payload BYTES]

The database's own cost of one webhook_inbox row, with no contention: one connection writes N
rows B at a time (the inbox writer's INSERT … ON CONFLICT DO NOTHING RETURNING id, each with a
random payload of BYTES encoded as base64, like an encrypted delivery), then marks them processed
B at a time. Prints backend CPU (from /proc) and WAL bytes per row for the write and for three ways
to finish a row:
  done, payload dropped   what the consumer does (migration 20261201001000)
  done, payload kept      what it did before
  deleted                 for comparison: deleting the row instead (no dedupe of late retries)
Each is run twice, alternating. Traffic goes to 127.0.0.1 only.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "20000" },
    batch: { type: "string", default: "20" },
    payload: { type: "string", default: "780" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const total = Math.max(100, Number(values.rows));
const batch = Math.max(1, Number(values.batch));
const payloadBytes = Math.max(16, Number(values.payload));

const ch = await benchChannel({ runtime: "deno" });
const db = new pg.Client({ connectionString: ch.stack.adminDbUrl });
await db.connect();
try {
  const pid = (await db.query("select pg_backend_pid() as pid")).rows[0].pid as number;
  const cpuMs = () => pidCpuMs(pid);
  const wal = async () => (await db.query("select pg_current_wal_lsn()::text as l")).rows[0].l;
  const walBytes = async (from: string) =>
    Number(
      (await db.query("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as d", [from]))
        .rows[0].d,
    );
  const measure = async (work: () => Promise<void>) => {
    const c0 = cpuMs();
    const w0 = await wal();
    await work();
    return { cpu: (cpuMs() - c0) * 1000 / total, wal: await walBytes(w0) / total };
  };
  const payload = () => base64Encode(crypto.getRandomValues(new Uint8Array(payloadBytes)));
  const finishes: Record<string, string> = {
    "done, payload dropped":
      "update webhook_inbox set processed_at = now(), locked_until = null, last_error = null, payload_ciphertext = null where id = any($1)",
    "done, payload kept":
      "update webhook_inbox set processed_at = now(), locked_until = null, last_error = null where id = any($1)",
    "deleted": "delete from webhook_inbox where id = any($1)",
  };
  const lines: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (const [name, finish] of Object.entries(finishes)) {
      await db.query("truncate webhook_inbox cascade");
      await db.query("checkpoint"); // each round starts with the same full-page-write state
      const ids: number[] = [];
      const write = await measure(async () => {
        for (let i = 0; i < total; i += batch) {
          const n = Math.min(batch, total - i);
          const keys = Array.from({ length: n }, () => crypto.randomUUID().repeat(2));
          const r = await db.query(
            `insert into webhook_inbox (provider, dedupe_key, payload_ciphertext, attempts, locked_until)
             select 'meta', k, p, 1, now() + interval '60 seconds'
             from unnest($1::text[], $2::text[]) as u(k, p)
             on conflict (provider, dedupe_key) do nothing returning id`,
            [keys, keys.map(payload)],
          );
          ids.push(...r.rows.map((x) => Number(x.id)));
        }
      });
      const done = await measure(async () => {
        for (let i = 0; i < ids.length; i += batch) {
          await db.query(finish, [ids.slice(i, i + batch)]);
        }
      });
      lines.push(
        `| ${name} | ${write.cpu.toFixed(1)} µs | ${write.wal.toFixed(0)} B | ${
          done.cpu.toFixed(1)
        } µs | ${done.wal.toFixed(0)} B |`,
      );
    }
  }
  console.log(
    `${total} rows, ${batch} per statement, payload ${payloadBytes} B before base64\n
| finish | write CPU/row | write WAL/row | finish CPU/row | finish WAL/row |
|---|---|---|---|---|
${lines.join("\n")}`,
  );
} finally {
  await db.end();
  await ch.close();
}
