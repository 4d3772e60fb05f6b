import assert from "node:assert/strict";
import type { FaultKind } from "../../tools/emulators/graph_api.ts";
import {
  answerFigures,
  type FaultChannel,
  faultChannel,
  scale,
  sleep,
} from "../_support/fault_channel.ts";
import {
  type Answers,
  clientErrors,
  metaSender,
  type MetaTraffic,
  openLoad,
  type SentMessage,
  serverErrors,
} from "../_support/meta_traffic.ts";
import { recordFigures } from "../_support/reliability.ts";

/**
 * Faults on a stack each test owns: PostgreSQL crashing, PostgREST restarting, the Graph API
 * hanging or cutting answers off, the app killed mid-batch. Meta is played by a sender that
 * retries until acknowledged (as Meta does for days); afterwards what was acknowledged is
 * compared with what is stored, and what was sent with what the Graph emulator received.
 * `lost` and `duplicated` must be zero.
 */

/** Every index `traffic` was asked to deliver is stored exactly once: inbound and statuses. */
async function assertStoredOnce(
  f: FaultChannel,
  { traffic, count: deliveries, sent }: {
    traffic: MetaTraffic;
    count: number;
    sent: SentMessage[];
  },
): Promise<{ lost: number; duplicated: number }> {
  let inbound = 0;
  for (let i = 0; i < deliveries; i++) if (!traffic.isStatus(i)) inbound++;
  const statuses = deliveries - inbound;
  const stored = await f.storedInbound();
  const events = await f.storedStatusEvents(sent);
  const lost = Math.max(0, inbound - stored.distinct) + Math.max(0, statuses - events);
  const duplicated = stored.rows - stored.distinct + Math.max(0, events - statuses);
  assert.deepEqual(
    { inbound: stored, statusEvents: events },
    { inbound: { rows: inbound, distinct: inbound }, statusEvents: statuses },
    "every acknowledged event stored exactly once",
  );
  return { lost, duplicated };
}

/** Meta's deliveries at `rate` per second, each retried until acknowledged. */
function metaDelivers(f: FaultChannel, traffic: MetaTraffic, rate: number, count: number) {
  const meta = metaSender({ url: `${f.appUrl}/webhooks/whatsapp`, traffic, timeoutMs: 5000 });
  const run = openLoad({
    rate,
    count,
    timeoutMs: 600_000,
    maxInFlight: count,
    send: async (k) => (await meta.deliver(k)) ? 200 : null,
  });
  return { meta, run };
}

async function deliverDuring(
  f: FaultChannel,
  options: { rate: number; seconds: number; history: number },
  fault: () => Promise<void>,
) {
  const sent = await f.seedHistory(options.history);
  const traffic = f.traffic(50, sent);
  const count = Math.round(options.rate * options.seconds);
  const { meta, run } = metaDelivers(f, traffic, options.rate, count);
  try {
    const [load] = await Promise.all([run, fault()]);
    return { traffic, count, meta, load, sent };
  } finally {
    meta.close();
  }
}

Deno.test("PostgreSQL crashing during ingest: Meta is answered 5xx and retries, and everything acknowledged is stored once after recovery", async () => {
  const f = await faultChannel();
  try {
    const seconds = scale(6, 30);
    let restartedAt = new Date();
    let downMs = 0;
    const run = await deliverDuring(
      f,
      { rate: scale(60, 200), seconds, history: scale(500, 5000) },
      async () => {
        await sleep(seconds * 300);
        const t = performance.now();
        await f.stack.control.crashDatabase();
        await sleep(scale(1500, 5000));
        await f.stack.control.startDatabase();
        downMs = performance.now() - t;
        restartedAt = new Date();
      },
    );
    assert.equal(run.meta.acknowledged.size, run.count, "every delivery acknowledged in the end");
    assert.ok(
      serverErrors(run.meta.answers) + run.meta.answers.noAnswer > 0,
      `Meta was told to retry while the database was down (${JSON.stringify(run.meta.answers)})`,
    );
    assert.equal(clientErrors(run.meta.answers), 0, "a signed delivery is never answered 4xx");
    const recovering = performance.now();
    await f.expireInboxLeases(restartedAt);
    await f.drained();
    const { lost, duplicated } = await assertStoredOnce(f, run);
    await recordFigures("faults", "PostgreSQL crash (immediate shutdown) during ingest", {
      deliveries: run.count,
      database_down_ms: Math.round(downMs),
      ...answerFigures(run.meta.answers),
      meta_retries: run.meta.retries(),
      processed_after_recovery_s: Math.round((performance.now() - recovering) / 100) / 10,
      lost,
      duplicated,
    });
  } finally {
    await f.close();
  }
});

Deno.test("PostgREST restarting during ingest and during sends: acknowledged events stored once, every accepted message reaches Meta once", async () => {
  const f = await faultChannel();
  try {
    const seconds = scale(6, 30);
    const sendCount = scale(30, 300);
    const sendAnswers: Answers = { byStatus: {}, noAnswer: 0 };
    const sendIds: string[] = [];
    let restartedAt = new Date();
    const run = await deliverDuring(
      f,
      { rate: scale(60, 200), seconds, history: scale(500, 5000) },
      async () => {
        // sends spread over the whole run, so some are in flight across the restart
        const sends = Promise.all(
          Array.from({ length: sendCount }, async (_, k) => {
            await sleep((k * seconds * 1000) / sendCount);
            sendIds[k] = await f.send(
              `${f.tag}-send-${k}`,
              `4478${String(k).padStart(8, "0")}`,
              sendAnswers,
            );
          }),
        );
        await sleep(seconds * 300);
        await f.stack.control.stopPostgrest();
        await sleep(scale(1000, 3000));
        await f.stack.control.startPostgrest();
        restartedAt = new Date();
        await sends;
      },
    );
    assert.equal(run.meta.acknowledged.size, run.count, "every delivery acknowledged in the end");
    assert.ok(
      serverErrors(run.meta.answers) + run.meta.answers.noAnswer > 0,
      `Meta was told to retry while PostgREST was down (${JSON.stringify(run.meta.answers)})`,
    );
    assert.equal(clientErrors(run.meta.answers), 0, "a signed delivery is never answered 4xx");
    await f.expireInboxLeases(restartedAt);
    await f.drained();
    const stored = await assertStoredOnce(f, run);
    // a send whose result could not be recorded waits for its lease (21 s) or its status webhook
    const sends = await f.sendsSettled(sendIds, 90_000);
    assert.deepEqual(
      { open: sends.open, failed: sends.failed, lost: sends.lost, duplicated: sends.duplicated },
      { open: 0, failed: [], lost: 0, duplicated: 0 },
      "every accepted message reached the Graph API exactly once",
    );
    assert.equal(sends.unknown, 0, "no message the client did not ask for");
    await recordFigures("faults", "PostgREST restart during ingest and sends", {
      deliveries: run.count,
      ...answerFigures(run.meta.answers),
      sends: sendCount,
      ...answerFigures(sendAnswers, "send_"),
      lost: stored.lost + sends.lost,
      duplicated: stored.duplicated + sends.duplicated,
    });
  } finally {
    await f.close();
  }
});

const GRAPH_FAULTS: Array<{ kind: FaultKind; what: string }> = [
  { kind: "hang", what: "hanging without accepting" },
  { kind: "reset", what: "cutting the answer off without accepting" },
  { kind: "drop_after_accept", what: "accepting and never answering" },
  { kind: "reset_after_accept", what: "accepting and cutting the answer off" },
];

for (const { kind, what } of GRAPH_FAULTS) {
  Deno.test(`the Graph API ${what} on every first try: each message reaches Meta exactly once`, async () => {
    // the first status webhook comes after the app has given up on the call (1 s) and could have
    // retried it, and before the ambiguous wait ends: only that wait keeps a second copy from Meta
    const f = await faultChannel({
      env: { SEND_AMBIGUOUS_WAIT_MS: "5000" },
      emulator: { statusDelaysMs: { sent: 2500, delivered: 2600, read: null } },
    });
    try {
      const n = scale(6, 60);
      f.emulator.setFaults({ rate: 1, kinds: [kind], limit: n });
      const answers: Answers = { byStatus: {}, noAnswer: 0 };
      const ids = await Promise.all(
        Array.from(
          { length: n },
          (_, k) => f.send(`${f.tag}-${kind}-${k}`, `4479${String(k).padStart(8, "0")}`, answers),
        ),
      );
      const sends = await f.sendsSettled(ids, 60_000);
      const injected = (await (await fetch(`${f.emulator.url}/__emulator/faults`)).json())
        .injected[kind];
      assert.equal(injected, n, "every first try met the fault");
      assert.deepEqual(
        { open: sends.open, failed: sends.failed, lost: sends.lost, duplicated: sends.duplicated },
        { open: 0, failed: [], lost: 0, duplicated: 0 },
        "every message reached the Graph API exactly once",
      );
      assert.deepEqual(answers, { byStatus: { 202: n }, noAnswer: 0 }, "the client saw 202s");
      await recordFigures("faults", `Graph API ${kind.replaceAll("_", " ")}`, {
        sends: n,
        faults_injected: injected,
        lost: sends.lost,
        duplicated: sends.duplicated,
      });
    } finally {
      await f.close();
    }
  });
}

Deno.test("the app killed (SIGKILL) mid-batch and restarted: what it had acknowledged or accepted is finished once, after the lease", async () => {
  // slow Graph answers keep sends in flight when the app dies
  const f = await faultChannel();
  try {
    f.emulator.setFaults({ rate: 1, kinds: ["slow"], slowMs: 800 });
    const seconds = scale(6, 30);
    const sendCount = seconds * 10;
    const sendAnswers: Answers = { byStatus: {}, noAnswer: 0 };
    const sendIds: string[] = [];
    let restartedAt = new Date();
    let unprocessedAtKill = 0;
    let sendingAtKill = 0;
    const run = await deliverDuring(
      f,
      { rate: scale(150, 300), seconds, history: scale(500, 5000) },
      async () => {
        const sends = Promise.all(
          Array.from({ length: sendCount }, async (_, k) => {
            await sleep((k * seconds * 1000) / sendCount);
            sendIds[k] = await f.send(
              `${f.tag}-kill-${k}`,
              `4476${String(k).padStart(8, "0")}`,
              sendAnswers,
            );
          }),
        );
        await sleep(seconds * 300);
        // kill while a batch is in flight: deliveries recorded (claimed) but not yet processed,
        // and sends the Graph API has not answered
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const [busy] = await f.sql<{ inbox: string; sending: string }>(
            `select (select count(*) from webhook_inbox where processed_at is null) as inbox,
               (select count(*) from messages where status = 'sending') as sending`,
          );
          if (Number(busy.inbox) >= 3 && Number(busy.sending) >= 1) break;
          await sleep(5);
        }
        await f.killApp();
        unprocessedAtKill = Number(
          (await f.sql<{ n: string }>(
            "select count(*) as n from webhook_inbox where processed_at is null",
          ))[0].n,
        );
        sendingAtKill = Number(
          (await f.sql<{ n: string }>(
            "select count(*) as n from messages where status = 'sending'",
          ))[0].n,
        );
        await sleep(1000);
        await f.restartApp();
        restartedAt = new Date();
        await sends;
      },
    );
    assert.ok(unprocessedAtKill > 0, "the app died with deliveries recorded but not processed");
    assert.ok(sendingAtKill > 0, "the app died with sends in flight");
    assert.equal(run.meta.acknowledged.size, run.count, "every delivery acknowledged in the end");
    assert.equal(clientErrors(run.meta.answers), 0, "a signed delivery is never answered 4xx");
    await f.expireInboxLeases(restartedAt);
    await f.drained();
    const stored = await assertStoredOnce(f, run);
    const sends = await f.sendsSettled(sendIds, 90_000);
    assert.deepEqual(
      { open: sends.open, failed: sends.failed, lost: sends.lost, duplicated: sends.duplicated },
      { open: 0, failed: [], lost: 0, duplicated: 0 },
      "every accepted message reached the Graph API exactly once",
    );
    await recordFigures("faults", "app killed (SIGKILL) mid-batch and restarted", {
      deliveries: run.count,
      unprocessed_at_kill: unprocessedAtKill,
      sends: sendCount,
      sending_at_kill: sendingAtKill,
      ...answerFigures(run.meta.answers),
      lost: stored.lost + sends.lost,
      duplicated: stored.duplicated + sends.duplicated,
    });
  } finally {
    await f.close();
  }
});
