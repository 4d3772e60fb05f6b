import assert from "node:assert/strict";
import { clientWithToken, countRows, createClientWithPhone, signJwt } from "../_support/stack.ts";

/** The grouped send calls straight through PostgREST, as src/adapters/supabase/send_calls.ts makes them. */

const digits = () => String(Math.floor(1e11 + Math.random() * 8e11));

async function tenant() {
  const { clientId } = await createClientWithPhone("Send calls");
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  const request = (over: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(),
    wa_id: digits(),
    type: "template",
    content_ciphertext: "ct",
    free_form: false,
    ...over,
  });
  return { clientId, db, request };
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
