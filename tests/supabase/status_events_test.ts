import assert from "node:assert/strict";
import {
  clientWithToken,
  countRows,
  createClientWithPhone,
  signJwt,
  sql,
} from "../_support/stack.ts";

/**
 * public.apply_status_events straight through PostgREST: how a batch of status events finds its
 * messages (wamid, or our id from biz_opaque_callback_data), and how each message converges.
 */

async function tenant() {
  const { clientId } = await createClientWithPhone("Status events");
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  /** an outbound message as the pipeline leaves it: accepted with a wamid, or with none yet */
  const message = async (wamid: string | null) => {
    const id = crypto.randomUUID();
    const { error } = await db.rpc("enqueue_messages", {
      requests: [{
        id,
        wa_id: String(Math.floor(1e11 + Math.random() * 8e11)),
        type: "template",
        content_ciphertext: "ct",
        free_form: false,
      }],
    });
    assert.equal(error, null);
    await sql("update messages set status = 'accepted', wamid = $2 where id = $1", [id, wamid]);
    return id;
  };
  const row = async (id: string) =>
    (await sql<Record<string, string | null>>(
      `select wamid, status, error::text, pricing_category, sent_at::text, delivered_at::text,
         read_at::text, failed_at::text from messages where id = $1`,
      [id],
    ))[0];
  return { clientId, db, message, row };
}

const at = (second: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, second)).toISOString();
const pg = (iso: string) => iso.replace("T", " ").replace(".000Z", "+00");

Deno.test("a batch converges each message to its highest status, with the earliest time of each step", async () => {
  const t = await tenant();
  const a = await t.message("wamid.A");
  const events = [
    { wamid: "wamid.A", status: "read", occurred_at: at(30), message_id: a },
    { wamid: "wamid.A", status: "sent", occurred_at: at(10), message_id: a },
    { wamid: "wamid.A", status: "sent", occurred_at: at(10), message_id: a }, // duplicate
    {
      wamid: "wamid.A",
      status: "delivered",
      occurred_at: at(20),
      message_id: a,
      pricing: { category: "utility" },
    },
  ];
  const { data, error } = await t.db.rpc("apply_status_events", { events });
  assert.equal(error, null);
  // new events only, in the order received
  assert.deepEqual((data as Array<{ status: string }>).map((e) => e.status), [
    "read",
    "sent",
    "delivered",
  ]);
  const r = await t.row(a);
  assert.equal(r.status, "read");
  assert.equal(r.pricing_category, "utility");
  assert.equal(r.sent_at, pg(at(10)));
  assert.equal(r.delivered_at, pg(at(20)));
  assert.equal(r.read_at, pg(at(30)));
  assert.equal(await countRows("message_status_events", t.clientId), 3);
  // the same batch again changes nothing and reports nothing
  const again = await t.db.rpc("apply_status_events", { events });
  assert.deepEqual(again.data, []);
  assert.deepEqual(await t.row(a), r);
});

Deno.test("failed is terminal and keeps its errors; a later read does not undo it", async () => {
  const t = await tenant();
  const a = await t.message("wamid.F");
  const errors = [{ code: 131047, title: "Re-engagement message" }];
  await t.db.rpc("apply_status_events", {
    events: [{ wamid: "wamid.F", status: "failed", occurred_at: at(5), errors, message_id: a }],
  });
  await t.db.rpc("apply_status_events", {
    events: [{ wamid: "wamid.F", status: "read", occurred_at: at(9), message_id: a }],
  });
  const r = await t.row(a);
  assert.equal(r.status, "failed");
  assert.deepEqual(JSON.parse(r.error!), errors);
  assert.equal(r.failed_at, pg(at(5)));
});

Deno.test("a message whose send response was lost is found by our id, learns its wamid, and a later event of the batch with only that wamid finds it too", async () => {
  const t = await tenant();
  const lost = await t.message(null);
  const other = await t.message("wamid.O");
  const { data, error } = await t.db.rpc("apply_status_events", {
    events: [
      { wamid: "wamid.L", status: "sent", occurred_at: at(1), message_id: lost },
      { wamid: "wamid.L", status: "delivered", occurred_at: at(2), message_id: null },
      // not an id: ignored as one, the event still counts by its wamid
      { wamid: "wamid.O", status: "delivered", occurred_at: at(3), message_id: "not-a-uuid" },
      // nobody's: kept for the timeline, moves nothing
      { wamid: "wamid.NOBODY", status: "read", occurred_at: at(4), message_id: null },
    ],
  });
  assert.equal(error, null);
  const applied = data as Array<{ message_id: string | null }>;
  assert.deepEqual(applied.map((e) => e.message_id), [lost, lost, other, null]);
  const r = await t.row(lost);
  assert.equal(r.wamid, "wamid.L");
  assert.equal(r.status, "delivered");
  assert.equal((await t.row(other)).status, "delivered");
});
