import assert from "node:assert/strict";
import pg from "pg";
import { createClientWithPhone, sql, testStack } from "../_support/stack.ts";
import { asPrivacyStaff } from "../_support/privacy.ts";

/**
 * Legal holds as privacy staff place them, on retention's privacy.legal_holds
 * (supabase/migrations/20261202001500_legal_holds_for_requests.sql): retention obeys a hold on a
 * contact, by its id, the same as one by number; an expired hold holds nothing; nobody deletes a
 * held contact.
 */

const drain = () => sql("call private.run_retention('manual', 5000, interval '5 minutes', true)");
const digits = () => String(4470000000000 + Math.floor(Math.random() * 9e9));

async function oldContact(c: { clientId: string; phoneId: string }, withMessage = true) {
  const waId = digits();
  const [contact] = await sql<{ id: string }>(
    `insert into contacts (client_id, wa_id, created_at, updated_at)
     values ($1, $2, now() - interval '500 days', now() - interval '500 days') returning id`,
    [c.clientId, waId],
  );
  if (!withMessage) return { id: contact.id, waId, messageId: "" };
  const [message] = await sql<{ id: string }>(
    `insert into messages (client_id, phone_number_id, contact_id, recipient, direction, type,
       status, created_at)
     values ($1, $2, $3, $4, 'outbound', 'text', 'delivered', now() - interval '100 days')
     returning id`,
    [c.clientId, c.phoneId, contact.id, waId],
  );
  return { id: contact.id, waId, messageId: message.id };
}

const exists = async (table: string, id: string) =>
  (await sql(`select 1 from ${table} where id = $1`, [id])).length === 1;

Deno.test("retention keeps the messages and the contact of subjects held by privacy staff (by contact), and purges them once the hold expires", async () => {
  const c = await createClientWithPhone("Contact held for retention");
  // contacts are purged only once no message of theirs is left: one held subject with a message
  // shows the messages kept, one without shows the contact kept
  const heldWriter = await oldContact(c);
  const heldQuiet = await oldContact(c, false);
  const otherWriter = await oldContact(c);
  const otherQuiet = await oldContact(c, false);
  // an inbound message names no recipient: a hold on someone else must not keep it
  const [inbound] = await sql<{ id: string }>(
    `insert into messages (client_id, phone_number_id, contact_id, direction, type, status,
       created_at)
     values ($1, $2, $3, 'inbound', 'text', 'received', now() - interval '100 days') returning id`,
    [c.clientId, c.phoneId, otherWriter.id],
  );
  const holds = await asPrivacyStaff<{ id: string; kind: string; subject_ref: string | null }>(
    [heldWriter, heldQuiet].map((h) => [
      "select id, kind, subject_ref from privacy.place_legal_hold($1, 'Claim 2026/88', $2, now() + interval '1 hour')",
      [c.clientId, h.id],
    ]),
  );
  assert.equal(holds[0].kind, "contact");
  assert.equal(holds[0].subject_ref, null, "the hold names the contact, not its number");
  const [inEffect] = await sql<{ subjects_on_hold: number; client_on_hold: boolean }>(
    `select subjects_on_hold::int, client_on_hold from privacy.retention_in_effect
      where client_id = $1 and data_class = 'messages'`,
    [c.clientId],
  );
  assert.deepEqual(inEffect, { subjects_on_hold: 2, client_on_hold: false });
  await drain();
  assert.equal(await exists("messages", heldWriter.messageId), true);
  assert.equal(await exists("contacts", heldQuiet.id), true);
  assert.equal(await exists("messages", otherWriter.messageId), false, "the rest is purged");
  assert.equal(await exists("messages", inbound.id), false);
  assert.equal(await exists("contacts", otherQuiet.id), false);

  // the holds ran out: nobody lifted them, and they hold nothing any more
  await sql(
    `update privacy.legal_holds set placed_at = now() - interval '2 days',
       expires_at = now() - interval '1 second'
     where client_id = $1`,
    [c.clientId],
  );
  await drain();
  assert.equal(await exists("messages", heldWriter.messageId), false);
  assert.equal(await exists("contacts", heldQuiet.id), false);
  const after = await sql<{ contact_id: string | null; kind: string }>(
    "select contact_id, kind from privacy.legal_holds where client_id = $1 order by placed_at",
    [c.clientId],
  );
  assert.ok(
    after.some((h) => h.contact_id === null && h.kind === "contact"),
    "the record of a hold stays when its contact goes",
  );
});

Deno.test("nobody deletes a held contact, the database owner included: the refusal names the hold, whether it names the contact or its number", async () => {
  const c = await createClientWithPhone("Held contact, any way");
  const byId = await oldContact(c);
  const byNumber = await oldContact(c);
  const [first] = await sql<{ id: string }>(
    "insert into privacy.legal_holds (client_id, contact_id, reason) values ($1, $2, 'claim') returning id",
    [c.clientId, byId.id],
  );
  const [second] = await sql<{ id: string; kind: string }>(
    "insert into privacy.legal_holds (client_id, subject_ref, reason) values ($1, $2, 'order') returning id, kind",
    [c.clientId, byNumber.waId],
  );
  assert.equal(second.kind, "contact", "a hold naming a subject is a hold on one subject");
  const owner = new pg.Client({ connectionString: testStack().adminDbUrl });
  await owner.connect();
  try {
    for (const [contact, hold] of [[byId, first], [byNumber, second]] as const) {
      const refused = await owner.query("delete from contacts where id = $1", [contact.id])
        .then(() => null, (e) => e as Error & { code?: string });
      assert.equal(refused?.code, "GL423");
      assert.match(refused.message, new RegExp(`under a legal hold \\(${hold.id}\\)`));
    }
  } finally {
    await owner.end();
  }
  await sql("update privacy.legal_holds set lifted_at = now() where id in ($1, $2)", [
    first.id,
    second.id,
  ]);
  await sql("delete from messages where contact_id in ($1, $2)", [byId.id, byNumber.id]);
  await sql("delete from contacts where id in ($1, $2)", [byId.id, byNumber.id]);
  assert.equal(await exists("contacts", byId.id), false, "a lifted hold holds nothing");
});

Deno.test("a hold on one subject must name them, and a hold on a whole client names nobody", async () => {
  const c = await createClientWithPhone("Hold shapes");
  await assert.rejects(
    sql("insert into privacy.legal_holds (client_id, kind, reason) values ($1, 'contact', 'x')", [
      c.clientId,
    ]),
    /names them/,
  );
  await assert.rejects(
    sql(
      "insert into privacy.legal_holds (client_id, kind, subject_ref, reason) values ($1, 'client', '4470', 'x')",
      [c.clientId],
    ),
    /legal_holds_client_names_no_subject/,
  );
});
