import assert from "node:assert/strict";
import pg from "pg";
import {
  clientWithToken,
  countRows,
  createClientWithPhone,
  signJwt,
  sql,
  testStack,
} from "../_support/stack.ts";

/** The grouped send calls straight through PostgREST, as src/adapters/supabase/send_calls.ts makes them. */

const digits = () => String(Math.floor(1e11 + Math.random() * 8e11));

async function tenant() {
  const { clientId, phoneNumberId } = await createClientWithPhone("Send calls");
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  const request = (over: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(),
    wa_id: digits(),
    type: "template",
    content_ciphertext: "ct",
    free_form: false,
    ...over,
  });
  return { clientId, phoneNumberId, db, request };
}

Deno.test("enqueue_messages answers each request in order; one broken request fails alone", async () => {
  const t = await tenant();
  const good = t.request();
  const broken = t.request({ wa_id: "12" }); // breaks the contacts.wa_id check
  const again = t.request({ idempotency_key: "k1", request_hash: "h" });
  const repeat = { ...again, id: crypto.randomUUID() };
  const { data, error } = await t.db.rpc("enqueue_messages", {
    requests: [good, broken, again, repeat],
  });
  assert.equal(error, null);
  const answers = data as Array<{ outcome: string; error?: string; message?: { id: string } }>;
  assert.deepEqual(answers.map((a) => a.outcome), ["created", "error", "created", "existing"]);
  assert.equal(answers[0].message!.id, good.id);
  assert.match(answers[1].error!, /check constraint/);
  // the same Idempotency-Key twice in one call is still one message
  assert.equal(answers[3].message!.id, again.id);
  assert.equal(await countRows("messages", t.clientId), 2);
});

Deno.test("claim_outbound_messages and record_send_results answer in order, per message", async () => {
  const t = await tenant();
  const a = t.request();
  const b = t.request();
  await t.db.rpc("enqueue_messages", { requests: [a, b] });
  const claims = await t.db.rpc("claim_outbound_messages", {
    message_ids: [b.id, a.id, crypto.randomUUID()],
    lease_seconds: 30,
    recipient_gap_ms: 0,
  });
  assert.equal(claims.error, null);
  const c = claims.data as Array<{ outcome: string; message?: { id: string } }>;
  assert.deepEqual(c.map((x) => x.outcome), ["claimed", "claimed", "locked"]);
  assert.deepEqual([c[0].message!.id, c[1].message!.id], [b.id, a.id]);
  const recorded = await t.db.rpc("record_send_results", {
    results: [
      { message_id: a.id, result: { outcome: "accepted", wamid: "wamid.A" } },
      {
        message_id: b.id,
        result: { outcome: "failed", error: { code: 131047, title: "Re-engagement" } },
      },
    ],
  });
  assert.equal(recorded.error, null);
  assert.deepEqual(recorded.data, ["accepted", "failed"]);
});

type Answer = {
  outcome: string;
  retry_at?: string;
  message?: {
    id: string;
    status: string;
    attempts: number;
    locked_until: string | null;
    idempotency_key: string | null;
  };
  claim?: { outcome: string; phone?: { phone_number_id: string }; retry_at?: string } | null;
};

Deno.test("enqueue_messages with a claim leases each new message for sending; the recipient gap defers the second to one person", async () => {
  const t = await tenant();
  const first = t.request();
  const second = t.request({ wa_id: first.wa_id });
  const other = t.request();
  const { data, error } = await t.db.rpc("enqueue_messages", {
    requests: [first, second, other],
    claim: { lease_seconds: 30, recipient_gap_ms: 6000 },
  });
  assert.equal(error, null);
  const [a, b, c] = data as Answer[];
  assert.deepEqual([a.outcome, b.outcome, c.outcome], ["created", "created", "created"]);
  // claimed as claim_outbound_message would: sending, one attempt, a lease, the sending number
  assert.equal(a.claim?.outcome, "claimed");
  assert.equal(a.claim?.phone?.phone_number_id, t.phoneNumberId);
  assert.equal(a.message!.status, "sending");
  assert.equal(a.message!.attempts, 1);
  const lease = Date.parse(a.message!.locked_until!) - Date.now();
  assert.ok(lease > 20_000 && lease <= 31_000, `lease ${lease} ms`);
  assert.equal(c.claim?.outcome, "claimed");
  // the same person again within the gap: stored, queued, due when the gap ends
  assert.equal(b.claim?.outcome, "deferred");
  assert.equal(b.message!.status, "queued");
  assert.equal(b.message!.attempts, 0);
  const wait = Date.parse(b.claim!.retry_at!) - Date.now();
  assert.ok(wait > 4_000 && wait <= 6_000, `deferred by ${wait} ms`);
  // nobody can claim the leased one; the deferred one is not due before the gap ends
  const claims = await t.db.rpc("claim_outbound_messages", {
    message_ids: [first.id, second.id],
    lease_seconds: 30,
    recipient_gap_ms: 6000,
  });
  assert.deepEqual((claims.data as Answer[]).map((x) => x.outcome), ["locked", "not_due"]);
  // without a claim, messages are only queued (a queue elsewhere claims them)
  const plain = await t.db.rpc("enqueue_messages", { requests: [t.request()] });
  assert.equal((plain.data as Answer[])[0].message!.status, "queued");
  assert.equal((plain.data as Answer[])[0].claim, undefined);
});

Deno.test("a claimed enqueue that breaks a rule claims nothing: refused requests hold no lease and move no recipient clock", async () => {
  const t = await tenant();
  const good = t.request();
  const broken = t.request({ wa_id: "12" });
  const { data } = await t.db.rpc("enqueue_messages", {
    requests: [good, broken],
    claim: { lease_seconds: 30, recipient_gap_ms: 6000 },
  });
  const [a, b] = data as Answer[];
  // the call was redone request by request: the good one is claimed once, not twice
  assert.equal(a.claim?.outcome, "claimed");
  assert.equal(a.message!.attempts, 1);
  assert.equal(b.outcome, "error");
  assert.equal(await countRows("messages", t.clientId), 1);
  assert.equal(await countRows("contacts", t.clientId, "last_outbound_at is not null"), 1);
});

/**
 * The same mixed call on two fresh tenants: once as one enqueue_messages call, once request by
 * request through enqueue_message. Each request must get the same outcome either way.
 */
Deno.test("a call of mixed requests is answered exactly as the same requests one by one", async () => {
  const scenario = async (t: Awaited<ReturnType<typeof tenant>>) => {
    const stopped = digits();
    const recent = digits();
    const reqs = [
      t.request({ idempotency_key: "seen", request_hash: "h1" }), // existing after setup
      t.request({ idempotency_key: "clash", request_hash: "other" }), // conflict after setup
      t.request({ phone_number_id: "1" }), // not this client's number
      t.request({ wa_id: stopped }), // opted out
      t.request({ free_form: true }), // never wrote to us
      t.request({ wa_id: recent, free_form: true }), // inside the window
      t.request({ user_id: "US.bsuid-only" }), // business-scoped id only
      t.request({ phone_number_id: t.phoneNumberId }),
    ];
    const setup = [
      { ...reqs[0], id: crypto.randomUUID() },
      { ...reqs[1], id: crypto.randomUUID(), request_hash: "h2" },
      t.request({ wa_id: stopped }),
      t.request({ wa_id: recent }),
    ];
    for (const s of setup) assert.equal((await t.db.rpc("enqueue_message", { p: s })).error, null);
    await sql(
      "update contacts set consent_status = 'opted_out' where client_id = $1 and wa_id = $2",
      [t.clientId, stopped],
    );
    await sql(
      "update contacts set last_inbound_at = now() - interval '1 hour' where client_id = $1 and wa_id = $2",
      [t.clientId, recent],
    );
    return reqs;
  };
  const batched = await tenant();
  const batchReqs = await scenario(batched);
  const call = await batched.db.rpc("enqueue_messages", { requests: batchReqs });
  assert.equal(call.error, null);
  const single = await tenant();
  const singleReqs = await scenario(single);
  const one: Answer[] = [];
  for (const p of singleReqs) {
    const { data, error } = await single.db.rpc("enqueue_message", { p });
    assert.equal(error, null);
    one.push(data as Answer);
  }
  const outcomes = (call.data as Answer[]).map((a) => a.outcome);
  assert.deepEqual(outcomes, [
    "existing",
    "idempotency_conflict",
    "unknown_phone_number",
    "opted_out",
    "outside_window",
    "created",
    "created",
    "created",
  ]);
  assert.deepEqual(one.map((a) => a.outcome), outcomes);
  // created messages are the callers' ids; the existing one is the earlier message
  const answers = call.data as Answer[];
  assert.equal(answers[5].message!.id, batchReqs[5].id);
  assert.notEqual(answers[0].message!.id, batchReqs[0].id);
  assert.equal(
    await countRows("messages", batched.clientId),
    await countRows("messages", single.clientId),
  );
  assert.equal(
    await countRows("contacts", batched.clientId),
    await countRows("contacts", single.clientId),
  );
});

Deno.test("concurrent calls with one Idempotency-Key make one message, and every caller gets it", async () => {
  const t = await tenant();
  const base = t.request({ idempotency_key: "same", request_hash: "h" });
  const calls = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    t.db.rpc("enqueue_messages", {
      requests: [t.request(), { ...base, id: crypto.randomUUID() }, t.request()].slice(i % 2),
      claim: { lease_seconds: 30, recipient_gap_ms: 6000 },
    })));
  const answers = calls.flatMap((c) => {
    assert.equal(c.error, null);
    return c.data as Answer[];
  });
  const keyed = answers.filter((a) => a.message?.idempotency_key === "same");
  assert.equal(keyed.length, 6);
  assert.equal(new Set(keyed.map((a) => a.message!.id)).size, 1);
  assert.deepEqual(keyed.map((a) => a.outcome).sort(), ["created", ...Array(5).fill("existing")]);
  assert.equal(await countRows("messages", t.clientId, "idempotency_key = 'same'"), 1);
  // three calls carried two other requests, three carried one
  assert.equal(await countRows("messages", t.clientId), 1 + 3 * 2 + 3 * 1);
});

Deno.test("a request that loses the insert race for its Idempotency-Key answers with the winner's message", async () => {
  const t = await tenant();
  const mine = t.request({ idempotency_key: "race", request_hash: "h" });
  // the winner: a concurrent enqueue with the same key, inserted but not yet committed
  const winner = new pg.Client({ connectionString: testStack().adminDbUrl });
  await winner.connect();
  try {
    await winner.query("begin");
    const [phone] = (await winner.query(
      "select id from phone_numbers where client_id = $1",
      [t.clientId],
    )).rows;
    const winnerId = crypto.randomUUID();
    await winner.query(
      `insert into messages (id, client_id, phone_number_id, direction, type, status,
         idempotency_key, request_hash) values ($1, $2, $3, 'outbound', 'template', 'queued', 'race', 'h')`,
      [winnerId, t.clientId, phone.id],
    );
    // ours does not see it yet, tries to insert, and waits on the key
    // (a supabase-js builder runs only once awaited: start it now)
    const call = (async () =>
      await t.db.rpc("enqueue_messages", { requests: [mine, t.request()] }))();
    await new Promise((r) => setTimeout(r, 300));
    await winner.query("commit");
    const { data, error } = await call;
    assert.equal(error, null);
    const [a, b] = data as Answer[];
    assert.equal(a.outcome, "existing");
    assert.equal(a.message!.id, winnerId);
    assert.equal(b.outcome, "created");
    assert.equal(await countRows("messages", t.clientId, "idempotency_key = 'race'"), 1);
  } finally {
    await winner.end();
  }
});

Deno.test("claims lock their recipients in id order, so a claim and an enqueue sharing recipients cannot deadlock", async () => {
  const t = await tenant();
  const one = t.request();
  const two = t.request();
  await t.db.rpc("enqueue_messages", { requests: [one, two] });
  const rows = await sql<{ id: string; contact_id: string }>(
    "select id, contact_id from messages where id = any($1) order by contact_id",
    [[one.id, two.id]],
  );
  const [low, high] = rows; // low.contact_id < high.contact_id
  // another call (an enqueue, say) that takes the same contacts in id order: the lower first
  const other = new pg.Client({ connectionString: testStack().adminDbUrl });
  await other.connect();
  try {
    await other.query("begin");
    await other.query("set local lock_timeout = '5s'");
    await other.query("select 1 from contacts where id = $1 for update", [low.contact_id]);
    // the claim names the higher contact's message first (a supabase-js builder runs only once
    // awaited: start it now); it must wait for the lower contact without holding the higher
    const claim = (async () =>
      await t.db.rpc("claim_outbound_messages", {
        message_ids: [high.id, low.id],
        lease_seconds: 30,
        recipient_gap_ms: 6000,
      }))();
    await new Promise((r) => setTimeout(r, 300));
    // taken in request order, the claim would hold this one now and PostgreSQL would abort one
    // of the two calls as a deadlock
    await other.query("select 1 from contacts where id = $1 for update", [high.contact_id]);
    await other.query("commit");
    const { data, error } = await claim;
    assert.equal(error, null);
    const answers = data as Answer[];
    assert.deepEqual(answers.map((a) => a.outcome), ["claimed", "claimed"]);
    assert.deepEqual(answers.map((a) => a.message!.id), [high.id, low.id]);
  } finally {
    await other.end();
  }
});

Deno.test("an attempt whose lease ran out without an outcome is ambiguous: the message waits the ambiguous wait from the lease's end before it is claimed again", async () => {
  const t = await tenant();
  const msg = t.request();
  const claim = { lease_seconds: 30, recipient_gap_ms: 0 };
  const { data } = await t.db.rpc("enqueue_messages", { requests: [msg], claim });
  assert.equal((data as Answer[])[0].claim?.outcome, "claimed");
  // the process that held the claim died after calling the Graph API: its lease ran out 5 s ago
  await sql(
    `update messages set locked_until = now() - interval '5 seconds',
        next_attempt_at = now() - interval '40 seconds' where id = $1`,
    [msg.id],
  );
  const again = (wait: number) =>
    t.db.rpc("claim_outbound_messages", {
      message_ids: [msg.id],
      ...claim,
      ambiguous_wait_ms: wait,
    });
  const first = ((await again(30_000)).data as Answer[])[0];
  assert.equal(first.outcome, "not_due", "not sent again while Meta may still report it");
  const due = Date.parse(first.retry_at!) - Date.now();
  assert.ok(due > 20_000 && due <= 25_500, `due in ${due} ms (30 s from the lease's end)`);
  const [row] = await sql<{ status: string; locked_until: string | null; attempts: number }>(
    "select status, locked_until, attempts from messages where id = $1",
    [msg.id],
  );
  assert.deepEqual(row, { status: "sending", locked_until: null, attempts: 1 });
  // asked again before the wait is over: still not due, and no new attempt
  assert.equal(((await again(30_000)).data as Answer[])[0].outcome, "not_due");
  // a status webhook naming it meanwhile ends it: the claim then answers done
  await sql("update messages set status = 'sent' where id = $1", [msg.id]);
  assert.equal(((await again(30_000)).data as Answer[])[0].outcome, "done");

  // once the wait is over (here: a wait shorter than the time since the lease ended), it is sent
  const late = t.request();
  await t.db.rpc("enqueue_messages", { requests: [late], claim });
  await sql(
    `update messages set locked_until = now() - interval '5 seconds',
        next_attempt_at = now() - interval '40 seconds' where id = $1`,
    [late.id],
  );
  const [sent] = (await t.db.rpc("claim_outbound_messages", {
    message_ids: [late.id],
    ...claim,
    ambiguous_wait_ms: 1_000,
  })).data as Answer[];
  assert.equal(sent.outcome, "claimed");
  assert.equal(sent.message!.attempts, 2);
});
