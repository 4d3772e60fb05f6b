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
