import assert from "node:assert/strict";
import { faultChannel, sleep } from "../_support/fault_channel.ts";
import { type Answers, metaSender, openLoad } from "../_support/meta_traffic.ts";
import { recordFigures } from "../_support/reliability.ts";

/**
 * The soak (`deno task reliability --soak`; not part of `deno task test`: it runs for 30 minutes).
 * Mixed traffic for RELIABILITY_SOAK_SECONDS on a throwaway stack with the app as its own process
 * and production timings: Meta's deliveries (a quarter inbound messages, the rest statuses), sends
 * through the API that the Graph emulator answers with status webhooks, a client listening on its
 * webhook endpoint, and reads of the API. Memory (the anonymous resident memory of the app, of
 * PostgREST and of every PostgreSQL process) and connections (PostgreSQL's client backends, the app's open descriptors) are sampled
 * and must stay flat once warm; nothing may be lost or duplicated.
 */

const seconds = Number(Deno.env.get("RELIABILITY_SOAK_SECONDS") ?? 1800);
const rate = Number(Deno.env.get("RELIABILITY_SOAK_RATE") ?? 200);
const SENDS_PER_SECOND = 5;
const SAMPLE_EVERY_MS = Math.min(10_000, Math.max(1000, (seconds * 1000) / 60));

interface Sample {
  at: number;
  appMb: number;
  postgrestMb: number;
  postgresMb: number;
  dbConnections: number;
  appDescriptors: number;
}

/**
 * A process's anonymous resident memory (RssAnon): its heaps, caches and buffers of its own,
 * without mapped files or shared memory. For PostgreSQL that leaves out the shared buffers, which
 * fill up to `shared_buffers` as the tables grow (bounded, by design) and which a smaps "Private"
 * count would still include for pages only one backend touched.
 */
function anonMb(pid: number | null | undefined): number {
  if (!pid) return 0;
  try {
    const kb = /^RssAnon:\s*(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The postmaster and every process it started (backends, checkpointer, WAL writer, …). */
function postgresMb(postmaster: number | null): number {
  if (!postmaster) return 0;
  let total = anonMb(postmaster);
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) total += anonMb(Number(e.name));
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

function descriptors(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
  } catch {
    return 0;
  }
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);

Deno.test(`soak: ${seconds} s of mixed traffic with flat memory and connections, nothing lost or duplicated`, async () => {
  const f = await faultChannel({
    // production timings: the soak is about what runs for long, not about recovery paths
    env: {
      SWEEP_INTERVAL_SECONDS: "30",
      GRAPH_API_TIMEOUT_MS: "10000",
      SEND_AMBIGUOUS_WAIT_MS: "30000",
      SEND_BACKOFF_BASE_MS: "1000",
    },
  });
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      await req.arrayBuffer();
      return new Response("ok");
    },
  );
  try {
    const endpoint = await fetch(`${f.appUrl}/v1/webhook-endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${f.key}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.addr.port}/hook` }),
    });
    assert.equal(endpoint.status, 201, await endpoint.text());
    const count = Math.round(rate * seconds);
    const sent = await f.seedHistory(Math.ceil((count * 0.75) / 3) + 1);
    const traffic = f.traffic(75, sent);
    const meta = metaSender({ url: `${f.appUrl}/webhooks/whatsapp`, traffic });
    const sendAnswers: Answers = { byStatus: {}, noAnswer: 0 };
    const sendIds: string[] = [];
    const samples: Sample[] = [];
    const started = performance.now();
    const running = () => performance.now() - started < seconds * 1000;
    const postmaster = async () => (await f.stack.control.pids()).postgres;
    const sample = async () => {
      const pids = await f.stack.control.pids();
      const [db] = await f.sql<{ n: string }>(
        "select count(*) as n from pg_stat_activity where backend_type = 'client backend'",
      );
      samples.push({
        at: (performance.now() - started) / 1000,
        appMb: anonMb(f.app()?.pid),
        postgrestMb: anonMb(pids.postgrest),
        postgresMb: postgresMb(await postmaster()),
        dbConnections: Number(db.n),
        appDescriptors: descriptors(f.app()?.pid),
      });
    };
    let readErrors = 0;
    let sendsRefused = 0;
    const sending: Promise<void>[] = [];
    await Promise.all([
      openLoad({
        rate,
        count,
        timeoutMs: 600_000,
        maxInFlight: 4096,
        send: async (k) => (await meta.deliver(k)) ? 200 : null,
      }),
      (async () => {
        for (let k = 0; running(); k++) {
          sending.push(
            f.send(`${f.tag}-soak-${k}`, `4475${String(k).padStart(8, "0")}`, sendAnswers)
              .then((id) => void sendIds.push(id), () => void sendsRefused++),
          );
          await sleep(1000 / SENDS_PER_SECOND);
        }
      })(),
      (async () => {
        while (running()) {
          const res = await fetch(`${f.appUrl}/v1/messages?limit=20`, {
            headers: { authorization: `Bearer ${f.key}` },
          }).catch(() => null);
          await res?.body?.cancel();
          if (res?.status !== 200) readErrors++;
          await sleep(1000);
        }
      })(),
      (async () => {
        while (running()) {
          await sample();
          await sleep(SAMPLE_EVERY_MS);
        }
      })(),
    ]);
    await sample();
    await Promise.all(sending);
    meta.close();
    await f.drained(600_000);
    const stored = await f.storedInbound();
    const events = await f.storedStatusEvents(sent);
    let inbound = 0;
    for (let i = 0; i < count; i++) if (!traffic.isStatus(i)) inbound++;
    const sends = await f.sendsSettled(sendIds, 300_000);
    const lost = Math.max(0, inbound - stored.distinct) +
      Math.max(0, count - inbound - events) + sends.lost;
    const duplicated = stored.rows - stored.distinct + Math.max(0, events - (count - inbound)) +
      sends.duplicated;

    // warm-up (first fifth) apart, the last third must not exceed the first third by more than
    // 10 % + 16 MB of memory: growth that lasts is a leak
    const warm = samples.filter((s) => s.at >= seconds / 5);
    const third = Math.max(1, Math.floor(warm.length / 3));
    const early = warm.slice(0, third);
    const late = warm.slice(-third);
    const grew = (key: keyof Sample, slack: (x: number) => number) =>
      max(late.map((s) => s[key])) > slack(max(early.map((s) => s[key])));
    const memory = (x: number) => x * 1.1 + 16;
    // PostgREST opens its pool (PGRST_DB_POOL, 20) as load asks, and this test holds up to two:
    // connections are flat when they stay within that, or within 2 of the early count
    const conns = (x: number) => Math.max(x + 2, 22);
    const figures: Record<string, number | string> = {
      seconds,
      deliveries: count,
      sends: sendIds.length,
      samples: samples.length,
      read_errors: readErrors,
      sends_never_accepted: sendsRefused,
    };
    for (const key of ["appMb", "postgrestMb", "postgresMb"] as const) {
      const name = key.replace("Mb", "");
      figures[`${name}_anon_mb_early`] = r1(
        max(early.map((s) => s[key])),
      );
      figures[`${name}_anon_mb_late`] = r1(
        max(late.map((s) => s[key])),
      );
    }
    figures.db_connections_early = max(early.map((s) => s.dbConnections));
    figures.db_connections_late = max(late.map((s) => s.dbConnections));
    figures.app_descriptors_early = max(early.map((s) => s.appDescriptors));
    figures.app_descriptors_late = max(late.map((s) => s.appDescriptors));
    figures.lost = lost;
    figures.duplicated = duplicated;
    await recordFigures("soak", `mixed traffic for ${Math.round(seconds / 60)} min`, figures);

    assert.ok(warm.length >= 3, "enough samples after warm-up to judge");
    assert.deepEqual(
      {
        app: grew("appMb", memory),
        postgrest: grew("postgrestMb", memory),
        postgres: grew("postgresMb", memory),
        dbConnections: grew("dbConnections", conns),
        appDescriptors: grew("appDescriptors", conns),
      },
      {
        app: false,
        postgrest: false,
        postgres: false,
        dbConnections: false,
        appDescriptors: false,
      },
      `nothing kept growing once warm: ${JSON.stringify(figures)}`,
    );
    assert.deepEqual({ lost, duplicated, open: sends.open }, { lost: 0, duplicated: 0, open: 0 });
    assert.equal(readErrors, 0, "every read answered 200");
    assert.equal(sendsRefused, 0, "every send accepted");
  } finally {
    await receiver.shutdown();
    await f.close();
  }
});
