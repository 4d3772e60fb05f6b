import assert from "node:assert/strict";
import {
  mayMove,
  MESSAGE_STATUSES,
  type MessageStatus,
  STATUS_RANK,
} from "../../src/core/messaging/status.ts";
import { createClientWithPhone, sql } from "../_support/stack.ts";

/**
 * The status rule is written twice, in src/core/messaging/status.ts (code and its property tests)
 * and in SQL (private.status_rank, the messages_status_moves_forward trigger, the status check),
 * where stored messages follow it. These tests hold the two copies to each other.
 */

Deno.test("private.status_rank() ranks every status as STATUS_RANK does, and nothing else", async () => {
  const probes = [...MESSAGE_STATUSES, "received", "deleted", "warning", "", "FAILED"];
  const rows = await sql<{ s: string; rank: number }>(
    "select s, private.status_rank(s) as rank from unnest($1::text[]) s",
    [probes],
  );
  for (const { s, rank } of rows) {
    const expected = Object.hasOwn(STATUS_RANK, s) ? STATUS_RANK[s as MessageStatus] : 0;
    assert.equal(rank, expected, `rank of "${s}"`);
  }
});

Deno.test("the messages.status check allows exactly MESSAGE_STATUSES and received", async () => {
  const [{ def }] = await sql<{ def: string }>(
    "select pg_get_constraintdef(oid) as def from pg_constraint " +
      "where conrelid = 'public.messages'::regclass and conname = 'messages_status_check'",
  );
  const allowed = [...def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]).sort();
  assert.deepEqual(allowed, [...MESSAGE_STATUSES, "received"].sort());
});

Deno.test("the database refuses exactly the status moves mayMove() refuses, for every pair", async () => {
  const { clientId, phoneId } = await createClientWithPhone("Status rule client");
  const [{ id }] = await sql<{ id: string }>(
    "insert into messages (client_id, phone_number_id, direction, type, status, recipient) " +
      "values ($1, $2, 'outbound', 'text', 'queued', '447700900999') returning id",
    [clientId, phoneId],
  );
  const disagreements: string[] = [];
  for (const from of MESSAGE_STATUSES) {
    for (const to of MESSAGE_STATUSES) {
      // `from` is set with triggers off (replica mode, this transaction only): then `to` is
      // the one move the trigger judges
      await sql(
        "begin; set local session_replication_role = replica; " +
          `update messages set status = '${from}' where id = '${id}'; commit`,
      );
      const stored = await sql("update messages set status = $2 where id = $1", [id, to])
        .then(() => true, (e: Error) => {
          assert.match(e.message, /cannot move from/);
          return false;
        });
      if (stored !== mayMove(from, to)) {
        disagreements.push(`${from} → ${to}: database ${stored}, mayMove ${mayMove(from, to)}`);
      }
    }
  }
  assert.deepEqual(disagreements, []);
  assert.equal(mayMove("failed", "queued"), false, "a failure is never taken back");
});
