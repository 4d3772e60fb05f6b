import assert from "node:assert/strict";
import { createClientWithPhone, createTestClient, sql } from "../_support/stack.ts";

/**
 * The retention classes of the privacy workflow's and the plugin layer's data
 * (supabase/migrations/20261202001530_privacy_retention_classes.sql): plugin deliveries, exports
 * and the proofs of handled requests, purged like every class, by client policy, with legal holds.
 */

/** Runs retention of every class to the end, as pg_cron's job does (with force: starts now). */
const drain = () => sql("call private.run_retention('manual', 5000, interval '5 minutes', true)");

async function existing(table: string, ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }>(
    `select id::text as id from ${table} where id::text = any($1::text[])`,
    [ids],
  );
  return rows.map((r) => r.id).sort();
}

/** A plugin delivery that finished `days` ago (created a day before that). */
async function pluginDelivery(clientId: string, status: string, days: number): Promise<string> {
  const [row] = await sql<{ id: string }>(
    `insert into plugin_deliveries (client_id, plugin_id, event_type, payload_ciphertext, status,
       created_at, finished_at)
     values ($1, 'example-echo', 'message.received', $2, $3,
       now() - make_interval(days => $4 + 1),
       case when $3 = 'pending' then null else now() - make_interval(days => $4) end)
     returning id`,
    [clientId, status === "parked" || status === "pending" ? "ct" : null, status, days],
  );
  return row.id;
}

const hex64 = () => crypto.randomUUID().replaceAll("-", "").repeat(2);

/** A finished request of the client (its proof), with its part and an export, `days` ago. */
async function finishedRequest(clientId: string, days: number) {
  const [request] = await sql<{ id: string }>(
    `insert into privacy_requests (reference_hash, reference_prefix, filing_client_id, type,
       channel, status, subject_kind, subject_hash, verification_method, verified_at, filed_by,
       received_at, completed_at)
     values ($1, 'ABCD', $2, 'access', 'api', 'completed', 'whatsapp', $3, 'whatsapp_code',
       now() - make_interval(days => $4), 'api_key:test', now() - make_interval(days => $4),
       now() - make_interval(days => $4))
     returning id`,
    [hex64(), clientId, hex64(), days],
  );
  const [part] = await sql<{ id: string }>(
    "insert into privacy_request_parts (request_id, client_id, status) values ($1, $2, 'done') returning id",
    [request.id, clientId],
  );
  const [exported] = await sql<{ id: string }>(
    `insert into privacy_exports (request_id, client_id, part_id, bytes, created_at, expires_at,
       downloaded_at)
     values ($1, $2, $3, 10, now() - make_interval(days => $4), now() - make_interval(days => $4)
       + interval '1 hour', now() - make_interval(days => $4))
     returning id`,
    [request.id, clientId, part.id, days],
  );
  return { request: request.id, exported: exported.id };
}

Deno.test("plugin deliveries are a retention class: handled ones go 7 days after they finished, parked ones after the client's period, pending ones never", async () => {
  const { clientId } = await createClientWithPhone("Plugin deliveries");
  const handledOld = await pluginDelivery(clientId, "succeeded", 8);
  const cancelledOld = await pluginDelivery(clientId, "cancelled", 8);
  const handledRecent = await pluginDelivery(clientId, "succeeded", 3);
  const parkedRecent = await pluginDelivery(clientId, "parked", 20);
  const parkedOld = await pluginDelivery(clientId, "parked", 40);
  const pending = await pluginDelivery(clientId, "pending", 60);
  await drain();
  assert.deepEqual(
    await existing("plugin_deliveries", [
      handledOld,
      cancelledOld,
      handledRecent,
      parkedRecent,
      parkedOld,
      pending,
    ]),
    [handledRecent, parkedRecent, pending].sort(),
  );

  // the client's own period applies to parked events
  await sql(
    `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
     values ($1, 'plugin_deliveries', interval '7 days', 'client instruction')`,
    [clientId],
  );
  await drain();
  assert.deepEqual(await existing("plugin_deliveries", [parkedRecent]), []);
  assert.deepEqual(
    await sql(
      "select 1 from pg_proc where proname = 'purge_plugin_deliveries' and pronamespace = 'public'::regnamespace",
    ),
    [],
    "the sweeper's own purge, which ignored policies and holds, is gone",
  );
});

Deno.test("plugin deliveries of a client under a legal hold are kept, a hold on one subject keeping the client's whole class, until the hold ends", async () => {
  const whole = await createTestClient("Held whole");
  const oneSubject = await createClientWithPhone("One subject held");
  const wholeParked = await pluginDelivery(whole, "parked", 40);
  const subjectParked = await pluginDelivery(oneSubject.clientId, "parked", 40);
  const [contact] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id) values ($1, '447700900777') returning id",
    [oneSubject.clientId],
  );
  const [wholeHold] = await sql<{ id: string }>(
    "insert into privacy.legal_holds (client_id, reason) values ($1, 'litigation') returning id",
    [whole],
  );
  const [subjectHold] = await sql<{ id: string }>(
    `insert into privacy.legal_holds (client_id, contact_id, reason) values ($1, $2, 'claim')
     returning id`,
    [oneSubject.clientId, contact.id],
  );
  await drain();
  assert.deepEqual(
    await existing("plugin_deliveries", [wholeParked, subjectParked]),
    [wholeParked, subjectParked].sort(),
    "a payload cannot be told apart by subject without decrypting it: the class is held",
  );

  await sql("update privacy.legal_holds set lifted_at = now() where id = $1", [wholeHold.id]);
  // a hold given an end stops holding then, without anyone lifting it
  await sql(
    "update privacy.legal_holds set placed_at = now() - interval '2 days', expires_at = now() - interval '1 day' where id = $1",
    [subjectHold.id],
  );
  await drain();
  assert.deepEqual(await existing("plugin_deliveries", [wholeParked, subjectParked]), []);
});

Deno.test("exports go after their period and the proofs of handled requests after theirs, unless a legal hold covers the client", async () => {
  const { clientId } = await createClientWithPhone("Request proofs");
  const held = await createTestClient("Request proofs held");
  const old = await finishedRequest(clientId, 1200);
  const recent = await finishedRequest(clientId, 10);
  const heldOld = await finishedRequest(held, 1200);
  await sql("insert into privacy.legal_holds (client_id, reason) values ($1, 'audit')", [held]);
  await drain();
  assert.deepEqual(
    await existing("privacy_requests", [old.request, recent.request, heldOld.request]),
    [
      recent.request,
      heldOld.request,
    ].sort(),
  );
  assert.deepEqual(
    await existing("privacy_exports", [old.exported, recent.exported, heldOld.exported]),
    [heldOld.exported],
    "an export goes after 7 days, with its request's proof or without",
  );
  const runs = await sql<{ data_class: string }>(
    `select distinct data_class from privacy.retention_runs
      where data_class in ('exports', 'request_proofs', 'plugin_deliveries') and error is null
      order by 1`,
  );
  assert.deepEqual(runs.map((r) => r.data_class), [
    "exports",
    "plugin_deliveries",
    "request_proofs",
  ]);
});
