import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { envelope, inbound, status, wamid } from "../_support/meta_fixtures.ts";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";
import { sql, testStack } from "../_support/stack.ts";

/** A seeded shuffle, so a failing order can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  const rand = () => ((s = (s * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

Deno.test("1,000 webhooks with 30% duplicates in random order leave no duplicate rows and every final status right", async () => {
  const ch = await startChannel();
  try {
    const [phone] = await sql<{ id: string }>("select id from phone_numbers where client_id = $1", [
      ch.clientId,
    ]);
    // 100 outbound messages whose statuses arrive (sent, delivered, read | failed), plus inbound messages
    const outbound = Array.from(
      { length: 100 },
      (_, i) => ({
        wamid: wamid(),
        final: i % 10 === 0 ? "failed" : i % 3 === 0 ? "delivered" : "read",
      }),
    );
    await sql(
      `insert into messages (client_id, phone_number_id, direction, type, status, wamid)
       select $1, $2, 'outbound', 'text', 'accepted', unnest($3::text[])`,
      [ch.clientId, phone.id, outbound.map((o) => o.wamid)],
    );
    const t = (s: number) => new Date(Date.UTC(2026, 10, 24, 9, 0, s));
    const unique: unknown[] = [];
    for (const o of outbound) {
      unique.push(status(o.wamid, "sent", { at: t(1) }));
      if (o.final === "failed") {
        unique.push(
          status(o.wamid, "failed", {
            at: t(2),
            errors: [{ code: 131026, title: "Message undeliverable" }],
          }),
        );
      } else {
        unique.push(status(o.wamid, "delivered", { at: t(2) }));
        if (o.final === "read") unique.push(status(o.wamid, "read", { at: t(3) }));
      }
    }
    const inboundIds: string[] = [];
    while (unique.length < 700) {
      const id = wamid();
      inboundIds.push(id);
      unique.push(
        inbound(`4477009${String(unique.length).padStart(5, "0")}`, "text", {
          text: { body: "hi" },
        }, { id }),
      );
    }
    const deliveries = unique.map((v) =>
      envelope(ch.wabaId, ch.phoneNumberId, v as Record<string, unknown>)
    );
    const all = shuffle([...deliveries, ...shuffle(deliveries, 7).slice(0, 300)], 42);
    assert.equal(all.length, 1000);

    for (let i = 0; i < all.length; i += 20) {
      const answers = await Promise.all(all.slice(i, i + 20).map((d) => ch.postWebhook(d)));
      assert.ok(answers.every((a) => a.status === 200), "every delivery acknowledged");
    }
    await ch.idle();

    const inbox = await sql<{ n: number; done: number; payloads: number }>(
      "select count(*)::int as n, count(processed_at)::int as done, count(payload_ciphertext)::int as payloads from webhook_inbox where dedupe_key = any($1)",
      [
        // the inbox is keyed by the delivery's verified signature (an HMAC of its exact bytes)
        await Promise.all(
          deliveries.map(async (d) =>
            (await signMetaPayload(JSON.stringify(d), testStack().secrets.meta_app_secret)).slice(7)
          ),
        ),
      ],
    );
    assert.deepEqual(
      inbox[0],
      { n: 700, done: 700, payloads: 0 },
      "one inbox row per distinct delivery, all processed, no raw payload kept",
    );
    const inboundRows = await sql<{ n: number; distinct_wamids: number }>(
      "select count(*)::int as n, count(distinct wamid)::int as distinct_wamids from messages where client_id = $1 and direction = 'inbound'",
      [ch.clientId],
    );
    assert.deepEqual(inboundRows[0], { n: inboundIds.length, distinct_wamids: inboundIds.length });
    const finals = await sql<{ wamid: string; status: string }>(
      "select wamid, status from messages where client_id = $1 and direction = 'outbound'",
      [ch.clientId],
    );
    const expected = Object.fromEntries(outbound.map((o) => [o.wamid, o.final]));
    const wrong = finals.filter((f) => expected[f.wamid] !== f.status);
    assert.deepEqual(wrong, []);
    const events = await sql<{ n: number }>(
      "select count(*)::int as n from message_status_events where client_id = $1",
      [ch.clientId],
    );
    assert.equal(
      events[0].n,
      unique.length - inboundIds.length,
      "each raw status event stored exactly once",
    );
  } finally {
    await ch.close();
  }
});

Deno.test("killing the consumer between recorded and processed loses nothing: the sweeper finishes the work once the lease runs out", async () => {
  // a doorbell whose consumer dies: jobs are rung but never run
  const dropped: Job[] = [];
  const ch = await startChannel({
    doorbell: () => ({ ring: (jobs) => (dropped.push(...jobs), Promise.resolve()) }),
  });
  try {
    const ids = [wamid(), wamid(), wamid()];
    for (const id of ids) {
      const res = await ch.postWebhook(
        envelope(
          ch.wabaId,
          ch.phoneNumberId,
          inbound("447700900555", "text", { text: { body: "still there?" } }, { id }),
        ),
      );
      assert.equal(res.status, 200, "acknowledged once recorded");
    }
    assert.ok(dropped.length >= 3, "the doorbell was rung");
    const before = await sql<{ n: number }>(
      "select count(*)::int as n from messages where wamid = any($1)",
      [ids],
    );
    assert.equal(before[0].n, 0, "nothing processed yet");

    // the rows were written claimed by the dead consumer (Deno runs jobs in-process): a sweep
    // leaves them alone while the lease holds
    const inboxIds = dropped.filter((j) => j.kind === "inbox").map((j) => (j as { id: number }).id);
    const [leased] = await sql<{ n: number }>(
      "select count(*)::int as n from webhook_inbox where id = any($1) and locked_until > now() and attempts = 1",
      [inboxIds],
    );
    assert.equal(leased.n, inboxIds.length);
    // a fresh instance (the restarted consumer) runs the sweeper, which rings the recorded work
    const { testApp } = await import("../_support/stack.ts");
    const restarted = await testApp();
    try {
      const early = await restarted.sweep();
      const [stillWaiting] = await sql<{ n: number }>(
        "select count(*)::int as n from webhook_inbox where id = any($1) and processed_at is null",
        [inboxIds],
      );
      assert.equal(
        stillWaiting.n,
        inboxIds.length,
        `nothing taken while leased (${JSON.stringify(early)})`,
      );
      // the lease runs out (moved into the past rather than waited for)
      await sql(
        "update webhook_inbox set locked_until = now() - interval '1 second' where id = any($1)",
        [
          inboxIds,
        ],
      );
      await restarted.sweep();
      // other tests' unfinished work is swept too (and may wait on backoff): wait for ours only
      await eventually(async () => {
        const [row] = await sql<{ n: number }>(
          "select count(*)::int as n from messages where wamid = any($1)",
          [ids],
        );
        return row.n === 3;
      }, "the swept inbox items to be processed");
    } finally {
      restarted.bell!.close();
    }
    const after = await sql<{ n: number }>(
      "select count(*)::int as n from messages where wamid = any($1)",
      [ids],
    );
    assert.equal(after[0].n, 3);
    const pending = await sql<{ n: number }>(
      "select count(*)::int as n from webhook_inbox where processed_at is null and id = any($1)",
      [dropped.filter((j) => j.kind === "inbox").map((j) => (j as { id: number }).id)],
    );
    assert.equal(pending[0].n, 0);
  } finally {
    await ch.close();
  }
});
