import assert from "node:assert/strict";
import { clientWithToken, countRows, createClientWithPhone, signJwt } from "../_support/stack.ts";

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
  message?: { id: string; status: string; attempts: number; locked_until: string | null };
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
