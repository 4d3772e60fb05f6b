import { parseArgs } from "node:util";
import { join } from "node:path";
import { createHmac } from "node:crypto";
import { buildStatus } from "../tests/_support/meta_payloads.ts";
import { benchChannel, type BenchRuntime } from "./channel_stack.ts";
import { type CpuProfile, profileWorker, summarizeProfile } from "./cpu_profile.ts";
import { cpuPerUnit, loadAverage, percentile, processCpu, treeCpuSeconds } from "./stats.ts";

const HELP = `deno run -A bench/whatsapp_ingest.ts [--connections N] [--seconds S]
  [--runtime deno,workerd,wrangler] [--phases] [options]

Ingest throughput of the whole local stack on this machine: a throwaway PostgreSQL + PostgREST, the
app as its own process, and a closed-loop client posting unique signed inbound-message webhooks
(~4 KB each, several messages per delivery) to POST /webhooks/whatsapp. Reports accepted
webhooks/s with p50/p99 answer latency, then how long the consumer took to finish processing
everything that was acknowledged (end-to-end processed/s). Traffic goes to 127.0.0.1 only.
--events N puts N events in each delivery (default 4, about 4 KB of messages; Meta usually sends
one event per delivery, so --events 1 is the commoner shape, about 1.2 KB).
Before the run the client is given a history, as a live client has: 20,000 outbound messages to
as many contacts, and the tables analysed (a live database has statistics).
--statuses P makes P % of the deliveries carry status events instead of messages (sent, then
delivered, then read) for those 20,000 messages, matched by wamid and by our id in
biz_opaque_callback_data, as Meta sends them.
--loadgen wrk drives the load with wrk (apt-get install wrk) instead of this process: the
deliveries are prepared and signed before the clock starts, and wrk's C loop costs the shared
cores much less per request (the stack under test gets the CPU a separate load machine would
leave it). Its latencies are wrk's own percentiles.
--client-endpoint registers a webhook endpoint for the client (a receiver in this process that
answers 200 at once), so every new message and status is also delivered, signed, to the client,
as it is in production for a client that listens.
--pg-stats loads pg_stat_statements and prints the statements that took the most database time.

--runtime takes a list: each runtime runs in turn on its own throwaway stack, and one table
compares them. deno is src/entry/deno.ts (jobs in-process: two batches of up to 100 at a time);
workerd is the deploy bundle (wrangler deploy --dry-run) in workerd alone, without wrangler's
proxy, its JOBS queue a broker in this process that runs the Worker's queue() handler as
Cloudflare does: batches of wrangler.toml's max_batch_size (or what arrived within its
max_batch_timeout), --consumer-concurrency batches at a time (default 4); wrangler is wrangler dev
with its local queue (its proxies in front: for behaviour, not speed).
--phases holds the jobs back while the load runs, then lets them go and waits until all are
processed: the app's CPU during the load, per webhook, is what acknowledging costs (the fetch),
and its CPU after, per event, what processing costs (the consumer). Without it both run together,
as in production, and the app's CPU is given per webhook for both. (deno and workerd; the Deno app
is then bench/deno_held_jobs.ts, src/entry/deno.ts with its doorbell held.) Keep --seconds at 40
or under: a held delivery's claim lasts 60 s.
--profile DIR (workerd) samples the Worker's CPU through workerd's inspector, for each phase with
--phases, and prints where it went by package and function; the profiles are kept in DIR
(Chrome DevTools opens them). Sampling slows the Worker.`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "32" },
    seconds: { type: "string", default: "15" },
    runtime: { type: "string", default: "deno" },
    phases: { type: "boolean", default: false },
    "consumer-concurrency": { type: "string", default: "4" },
    profile: { type: "string" },
    statuses: { type: "string", default: "0" },
    events: { type: "string", default: "4" },
    loadgen: { type: "string", default: "deno" },
    "client-endpoint": { type: "boolean", default: false },
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
const RUNTIMES: BenchRuntime[] = ["deno", "workerd", "wrangler"];
const runtimes = values.runtime.split(",") as BenchRuntime[];
for (const r of runtimes) {
  if (!RUNTIMES.includes(r)) throw new Error(`Unknown runtime ${r}: use ${RUNTIMES.join(", ")}`);
}
if (values.phases && runtimes.includes("wrangler")) {
  throw new Error("--phases works with deno and workerd (wrangler dev's queue cannot be held)");
}
if (values.phases && seconds > 40) throw new Error("--phases takes --seconds 40 at most");
const consumerConcurrency = Math.min(64, Math.max(1, Number(values["consumer-concurrency"])));

const perDelivery = Math.min(50, Math.max(1, Number(values.events)));
const statusShare = Math.min(100, Math.max(0, Number(values.statuses))) / 100;

/** One runtime's run on its own stack: its table row, notes, and profiles. */
async function benchmark(runtime: BenchRuntime) {
  const ch = await benchChannel({
    runtime,
    pgStats: values["pg-stats"],
    holdJobs: values.phases,
    consumerConcurrency,
    inspect: Boolean(values.profile),
  });
  const { phoneNumberId, wabaId } = ch;

  // the client's history (see seedHistory): the statuses are about these messages
  const outbound = await ch.seedHistory(20_000);
  // the client's own receiver: counts what it is sent and answers 200 at once
  let delivered = 0;
  const receiver = values["client-endpoint"]
    ? Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
      await req.arrayBuffer();
      delivered++;
      return new Response("ok");
    })
    : null;
  if (receiver) {
    const res = await fetch(`${ch.appUrl}/v1/webhook-endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${ch.key}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.addr.port}/hook` }),
    });
    if (res.status !== 201) throw new Error(`Could not register the endpoint: ${await res.text()}`);
  }
  const STEPS = ["sent", "delivered", "read"] as const;
  let statusSeq = 0;

  /** One delivery of a `messages` change for the bench's number, as Meta serialises it. */
  function messagesDelivery(value: Record<string, unknown>): string {
    return JSON.stringify({
      object: "whatsapp_business_account",
      entry: [{
        id: wabaId,
        changes: [{
          field: "messages",
          value: {
            messaging_product: "whatsapp",
            metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
            ...value,
          },
        }],
      }],
    });
  }

  /** A delivery of status events, each for the next seeded message, in sent → read order. */
  function statusDelivery(): string {
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
    return messagesDelivery({ statuses });
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
    return messagesDelivery({
      contacts: messages.map((m) => ({ profile: { name: "Customer" }, wa_id: m.from })),
      messages,
    });
  }

  const secret = ch.stack.secrets.meta_app_secret;
  const url = `${ch.appUrl}/webhooks/whatsapp`;
  /** Meta's signature: HMAC-SHA256 of the UTF-8 body under the App Secret. With node:crypto: Web
   * Crypto with a key import per call cost the load generator ~0.2 ms a delivery on this VM. */
  const sign = (body: string) =>
    `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

  interface LoadResult {
    /** performance.now() when the first request went out */
    startedAt: number;
    /** processCpu() then */
    cpuAtStart: ReturnType<typeof processCpu>;
    answered: number;
    errors: number;
    elapsed: number;
    p50: number;
    p99: number;
    bytes: number;
  }

  /** Closed loop from this process: each connection posts, waits for the answer, posts again. */
  async function denoLoad(): Promise<LoadResult> {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: connections });
    const latencies: number[] = [];
    let errors = 0;
    let bytes = 0;
    const cpuAtStart = processCpu();
    const started = performance.now();
    const end = started + seconds * 1000;
    try {
      await Promise.all(Array.from({ length: connections }, async () => {
        while (performance.now() < end) {
          const body = delivery();
          bytes += body.length;
          const sig = sign(body);
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
    } finally {
      client.close();
    }
    return {
      startedAt: started,
      cpuAtStart,
      answered: latencies.length,
      errors,
      elapsed: (performance.now() - started) / 1000,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      bytes,
    };
  }

  /**
   * The same closed loop from wrk (Debian's `wrk`, one thread), which costs the shared two cores far
   * less per request than a JavaScript client. The deliveries are generated and signed beforehand
   * (enough for 5,000/s, or 1,500/s with several events each), so wrk only replays them; each is sent once.
   */
  async function wrkLoad(): Promise<LoadResult> {
    const dir = await Deno.makeTempDir({ prefix: "ingest-wrk-" });
    try {
      // more than this run can use (several events per delivery are slower, and bigger)
      const count = (perDelivery > 1 ? 1500 : 5000) * seconds;
      const lines: string[] = [];
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const body = delivery();
        bytes += body.length;
        lines.push(`${sign(body)} ${body}`);
      }
      await Deno.writeTextFile(`${dir}/deliveries.txt`, lines.join("\n") + "\n");
      await Deno.writeTextFile(
        `${dir}/replay.lua`,
        `local entries, n, wrapped = {}, 0, false
  for line in io.lines("${dir}/deliveries.txt") do
    local sig, body = line:match("^(%S+) (.*)$")
    entries[#entries + 1] = { sig = sig, body = body }
  end
  function request()
    n = n + 1
    if n > #entries then n = 1; wrapped = true end
    local e = entries[n]
    return wrk.format("POST", nil,
      { ["content-type"] = "application/json", ["x-hub-signature-256"] = e.sig }, e.body)
  end
  function done(summary, latency, requests)
    io.write(string.format("RESULT %d %d %d %d %d %s\\n", summary.requests,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
        + summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(99),
      tostring(wrapped)))
  end
  `,
      );
      const cpuAtStart = processCpu();
      const startedAt = performance.now();
      const out = await new Deno.Command("wrk", {
        args: [
          "-t1",
          `-c${connections}`,
          `-d${seconds}s`,
          "--timeout",
          "10s",
          "-s",
          `${dir}/replay.lua`,
          url,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      const m = text.match(/RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\w+)/);
      if (!out.success || !m) throw new Error(`wrk failed:\n${text}`);
      if (m[6] === "true") console.warn("wrk ran out of prepared deliveries and repeated some");
      const answered = Number(m[1]);
      return {
        startedAt,
        cpuAtStart,
        answered,
        errors: Number(m[2]),
        elapsed: Number(m[3]) / 1e6,
        p50: Number(m[4]) / 1000,
        p99: Number(m[5]) / 1000,
        bytes: (bytes / count) * answered,
      };
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  try {
    const profiler = values.profile && runtime === "workerd"
      ? await profileWorker(ch.inspectorPort()!)
      : null;
    const profiles: string[] = [];
    const keepProfile = async (phase: string, profile: CpuProfile) => {
      await Deno.mkdir(values.profile!, { recursive: true });
      const file = join(values.profile!, `ingest-${phase}.cpuprofile`);
      await Deno.writeTextFile(file, JSON.stringify(profile));
      profiles.push(
        `### workerd, ${phase} (${file})\n\n${await summarizeProfile(profile, ch.bundle()!)}`,
      );
    };
    await profiler?.start();
    const appCpuAtStart = treeCpuSeconds(ch.app()!.pid);
    const load = values.loadgen === "wrk" ? await wrkLoad() : await denoLoad();
    const { elapsed, errors } = load;
    const accepted = load.answered - errors;
    const events = accepted * perDelivery;

    // with --phases, the load alone is over: what the app spent so far was the fetch
    let fetchCpu: number | null = null;
    let releasedAt = load.startedAt;
    let cpuAtRelease = load.cpuAtStart;
    if (values.phases) {
      fetchCpu = treeCpuSeconds(ch.app()!.pid) - appCpuAtStart;
      if (profiler) await keepProfile("fetch", await profiler.stop());
      if (profiler) await profiler.start();
      cpuAtRelease = processCpu();
      releasedAt = performance.now();
      ch.releaseJobs();
    }
    const appCpuAtRelease = treeCpuSeconds(ch.app()!.pid);

    // wait for the consumer to finish everything acknowledged: on workerd a delivery waits in
    // the queue before its inbox row exists, so the queue must be empty too
    const deadline = performance.now() + 300_000;
    let drained: { pending: number; at: number };
    do {
      while (ch.queued() > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      drained = await ch.inboxDrained({ pollMs: 50, timeoutMs: deadline - performance.now() });
    } while (ch.queued() > 0 && performance.now() < deadline);
    const { pending, at: processedAt } = drained;
    const consumerCpu = treeCpuSeconds(ch.app()!.pid) - appCpuAtRelease;
    const groups: Parameters<typeof cpuPerUnit>[2] = [
      ["PostgREST", (_pid, cmd) => cmd.includes("postgrest")],
      ["PostgreSQL", (_pid, cmd) => cmd.includes("postgres")],
      // the stand-in for Supabase's gateway runs in this process, with the Deno load generator and
      // workerd's queue broker
      ["this process (gateway, load, queue)", (pid) => pid === Deno.pid],
    ];
    const cpuAfter = processCpu();
    if (profiler) {
      await keepProfile(values.phases ? "consumer" : "fetch and consumer", await profiler.stop());
      profiler.close();
    }
    const [inbound] = await ch.sql<{ n: string }>(
      "select count(*) as n from messages where direction = 'inbound'",
    );
    const stored = Number(inbound.n);
    const [statusEvents] = await ch.sql<{ n: string }>(
      "select count(*) as n from message_status_events",
    );
    const total = (processedAt - load.startedAt) / 1000;
    const processing = (processedAt - releasedAt) / 1000;
    // and, with --client-endpoint, for every delivery to the client's receiver
    let clientLine = "";
    if (receiver) {
      let owed = Infinity;
      let recorded = 0;
      let doneAt = performance.now();
      while (owed > 0 && performance.now() < deadline) {
        const [row] = await ch.sql<{ owed: string; recorded: string }>(
          "select count(*) filter (where status = 'pending') as owed, count(*) as recorded from webhook_deliveries",
        );
        owed = Number(row.owed);
        recorded = Number(row.recorded);
        doneAt = performance.now();
        if (owed > 0) await new Promise((r) => setTimeout(r, 250));
      }
      const after = (doneAt - load.startedAt) / 1000;
      clientLine =
        ` Client endpoint: ${recorded} deliveries recorded, ${delivered} received, ${owed} pending; all delivered after ${
          after.toFixed(1)
        } s (${(recorded / after).toFixed(0)}/s).`;
    }
    const us = (seconds: number, units: number) =>
      units ? `${Math.round((seconds / units) * 1e6)} µs` : "?";
    const row = values.phases
      ? `| ${runtime} | ${(accepted / elapsed).toFixed(0)} | ${load.p50.toFixed(1)} ms | ${
        load.p99.toFixed(1)
      } ms | ${errors} | ${(events / processing).toFixed(0)} events/s (${pending} left) | ${
        us(fetchCpu!, accepted)
      } | ${us(consumerCpu, events)} | ${stored} |`
      : `| ${runtime} | ${(accepted / elapsed).toFixed(0)} | ${load.p50.toFixed(1)} ms | ${
        load.p99.toFixed(1)
      } ms | ${errors} | ${(accepted / total).toFixed(0)} (${pending} left) | ${
        us(treeCpuSeconds(ch.app()!.pid) - appCpuAtStart, accepted)
      } | ${stored} |`;
    const notes = [
      `${runtime}: ${accepted} deliveries of ~${
        Math.round(load.bytes / load.answered)
      } B (${perDelivery} event${perDelivery > 1 ? "s" : ""} each) in ${
        elapsed.toFixed(1)
      } s (${statusEvents.n} ` +
      `status events stored); all processed ${
        values.phases
          ? `${processing.toFixed(1)} s after the release`
          : `after ${total.toFixed(1)} s`
      }.${clientLine} Load average ${loadAverage()}.`,
      values.phases
        ? `${runtime}: other processes' CPU per webhook while acknowledging: ${
          cpuPerUnit(load.cpuAtStart, cpuAtRelease, groups, accepted)
        }; per event while processing: ${cpuPerUnit(cpuAtRelease, cpuAfter, groups, events)}`
        : `${runtime}: other processes' CPU per webhook: ${
          cpuPerUnit(load.cpuAtStart, cpuAfter, groups, accepted)
        }`,
    ];
    if (values["pg-stats"]) notes.push(`${runtime}:\n\n${await ch.topStatements()}`);
    return { row, notes, profiles };
  } finally {
    await receiver?.shutdown();
    await ch.close();
  }
}

const results = [];
for (const runtime of runtimes) results.push(await benchmark(runtime));
console.log(
  values.phases
    ? `| runtime | webhooks acknowledged/s | p50 | p99 | errors | processed | app CPU per webhook (fetch) | app CPU per event (consumer) | messages stored |
|---|---:|---:|---:|---:|---:|---:|---:|---:|`
    : `| runtime | webhooks acknowledged/s | p50 | p99 | errors | processed end-to-end/s | app CPU per webhook (fetch and processing) | messages stored |
|---|---:|---:|---:|---:|---:|---:|---:|`,
);
for (const r of results) console.log(r.row);
console.log(
  `\n${connections} connections, ${seconds} s, ${
    values.loadgen === "wrk" ? "wrk" : "Deno"
  } load; ` +
    `${new Date().toISOString()}`,
);
for (const r of results) for (const note of r.notes) console.log(`\n${note}`);
for (const r of results) for (const profile of r.profiles) console.log(`\n${profile}`);
