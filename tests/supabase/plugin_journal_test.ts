import assert from "node:assert/strict";
import { createTestClient, sql } from "../_support/stack.ts";

/**
 * Retention of what plugins keep (supabase/migrations/20261202001600_plugin_journal.sql): journal
 * entries by their last change, never pending ones nor a held number's; privacy requests once
 * handled, never open ones.
 */

const drain = () => sql("call private.run_retention('manual', 5000, interval '5 minutes', true)");

async function entry(
  clientId: string,
  key: string,
  days: number,
  outcome = "sent",
  number?: string,
) {
  await sql(
    `insert into plugin_journal (client_id, plugin_id, key, kind, outcome, recipient, created_at,
       updated_at)
     values ($1, 'shopify', $2, 'order_confirmation', $3, $4, now() - make_interval(days => $5),
       now() - make_interval(days => $5))`,
    [clientId, key, outcome, number ?? null, days],
  );
}

const keys = async (clientId: string) =>
  (await sql<{ key: string }>(
    "select key from plugin_journal where client_id = $1 order by key",
    [clientId],
  )).map((r) => r.key);

Deno.test("journal entries are purged 90 days after their last change, except pending ones and those about a number under a legal hold", async () => {
  const clientId = await createTestClient("Journal retention");
  await entry(clientId, "old-sent", 120);
  await entry(clientId, "old-suppressed", 100, "suppressed");
  await entry(clientId, "old-pending", 120, "pending");
  await entry(clientId, "old-held", 120, "sent", "919847012345");
  await entry(clientId, "recent", 10);
  await sql(
    "insert into privacy.legal_holds (client_id, subject_ref, reason) values ($1, '919847012345', 'dispute')",
    [clientId],
  );
  await drain();
  assert.deepEqual(await keys(clientId), ["old-held", "old-pending", "recent"]);
});

Deno.test("privacy requests received through a plugin are purged three years after they were handled, and open ones never", async () => {
  const clientId = await createTestClient("Privacy request retention");
  const request = (reference: string, status: string, handledDaysAgo: number | null) =>
    sql(
      `insert into plugin_privacy_requests (client_id, plugin_id, kind, reference, status, handled_at, received_at)
       values ($1, 'shopify', 'erasure', $2, $3,
         case when $4::int is null then null else now() - make_interval(days => $4::int) end,
         now() - interval '2000 days')`,
      [clientId, reference, status, handledDaysAgo],
    );
  await request("done-long-ago", "completed", 1200);
  await request("done-lately", "completed", 30);
  await request("still-open", "received", null);
  await drain();
  const left = await sql<{ reference: string }>(
    "select reference from plugin_privacy_requests where client_id = $1 order by reference",
    [clientId],
  );
  assert.deepEqual(left.map((r) => r.reference), ["done-lately", "still-open"]);
});

Deno.test("every column, constraint, index, policy and trigger of the plugin journal and privacy request tables, and their routines, has a comment for Studio", async () => {
  const missing = await sql<{ what: string }>(
    `with t as (select unnest(array['public.plugin_journal', 'public.plugin_privacy_requests'])::regclass as oid)
     select 'table ' || t.oid::text as what from t where obj_description(t.oid, 'pg_class') is null
     union all
     select 'column ' || t.oid::text || '.' || a.attname from t
       join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
      where col_description(t.oid, a.attnum) is null
     union all
     select 'constraint ' || c.conname from t join pg_constraint c on c.conrelid = t.oid
      -- PostgreSQL 18 keeps NOT NULL as constraints too: the column's comment covers those
      where c.contype <> 'n' and obj_description(c.oid, 'pg_constraint') is null
     union all
     select 'index ' || i.indexrelid::regclass::text from t join pg_index i on i.indrelid = t.oid
      where not i.indisprimary and not i.indisunique and obj_description(i.indexrelid, 'pg_class') is null
     union all
     select 'policy ' || p.polname from t join pg_policy p on p.polrelid = t.oid
      where obj_description(p.oid, 'pg_policy') is null
     union all
     select 'trigger ' || g.tgname from t join pg_trigger g on g.tgrelid = t.oid and not g.tgisinternal
      where obj_description(g.oid, 'pg_trigger') is null
     union all
     select 'routine ' || p.oid::regprocedure::text from pg_proc p
      where p.proname ~ '^(plugin_journal_|purge_plugin_)' and obj_description(p.oid, 'pg_proc') is null`,
  );
  assert.deepEqual(missing, []);
});
