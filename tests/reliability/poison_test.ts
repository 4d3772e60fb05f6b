import assert from "node:assert/strict";
import type { Job } from "../../src/ports/jobs.ts";
import { startChannel } from "../_support/channel.ts";
import { scale } from "../_support/fault_channel.ts";
import { envelope, inbound, status, wamid } from "../_support/meta_fixtures.ts";
import { recordFigures } from "../_support/reliability.ts";
import { createClientWithPhone, sql } from "../_support/stack.ts";

/**
 * Signed deliveries Meta can legally send that PostgreSQL cannot store as they are: `jsonb` refuses
 * a NUL and an unpaired surrogate. Each poisons one delivery of a processing batch, in every
 * position; the batch's other deliveries belong to two clients. Every valid event must be stored on
 * the first pass, and the poisoned delivery stored with its unstorable parts made safe or set aside
 * alone with its reason.
 */
const POISONS: Array<{ name: string; value: (wabaId: string, phoneNumberId: string) => unknown }> =
  [
    {
      name: "a NUL in a failed status's error details",
      value: (waba, phone) =>
        envelope(
          waba,
          phone,
          status(wamid(), "failed", {
            errors: [{
              code: 131026,
              title: "Message undeliverable",
              error_data: { details: "Undeliverable\u0000" },
            }],
          }),
        ),
    },
    {
      name: "an unpaired surrogate in a failed status's error title",
      value: (waba, phone) =>
        envelope(
          waba,
          phone,
          status(wamid(), "failed", { errors: [{ code: 131026, title: "Undeliverable \ud800" }] }),
        ),
    },
    {
      name: "a NUL in an account event",
      value: (waba) => ({
        object: "whatsapp_business_account",
        entry: [{
          id: waba,
          time: Math.floor(Date.now() / 1000),
          // a unique value: equal bodies are one delivery (Meta's retries), deduplicated
          changes: [{
            field: "account_update",
            value: { event: "ACCOUNT_UPDATE\u0000", id: crypto.randomUUID() },
          }],
        }],
      }),
    },
    {
      name: "a NUL in a message id",
      value: (waba, phone) =>
        envelope(
          waba,
          phone,
          inbound("447700900777", "text", { text: { body: "hi" } }, { id: `${wamid()}\u0000` }),
        ),
    },
  ];

for (const poison of POISONS) {
  Deno.test(`a delivery with ${poison.name}, in every position of a batch, takes no other event down`, async () => {
    // a doorbell that only collects: the test hands each batch to the consumer itself, whole
    let rung: Job[] = [];
    const ch = await startChannel({
      doorbell: () => ({ ring: (jobs) => (rung.push(...jobs), Promise.resolve()) }),
    });
    try {
      const other = await createClientWithPhone("Poison batch neighbour");
      const size = scale(5, 12);
      let storedFirstPass = 0;
      let validEvents = 0;
      for (let position = 0; position < size; position++) {
        rung = [];
        const valid: string[] = [];
        for (let k = 0; k < size; k++) {
          let payload: unknown;
          if (k === position) payload = poison.value(ch.wabaId, ch.phoneNumberId);
          else {
            const id = wamid();
            valid.push(id);
            // neighbours from the same client and from another one
            const phone = k % 2 ? other.phoneNumberId : ch.phoneNumberId;
            payload = envelope(
              ch.wabaId,
              phone,
              inbound("447700900778", "text", { text: { body: `neighbour ${k}` } }, { id }),
            );
          }
          const res = await ch.postWebhook(payload);
          assert.equal(res.status, 200, `delivery ${k} acknowledged (Meta may send it)`);
        }
        const inboxIds = rung.flatMap((j) => (j.kind === "inbox" ? [j.id] : []));
        assert.equal(inboxIds.length, size, "one job per delivery");
        await ch.app.handleJobs(rung);

        const [stored] = await sql<{ n: number }>(
          "select count(*)::int as n from messages where wamid = any($1)",
          [valid],
        );
        storedFirstPass += stored.n;
        validEvents += valid.length;
        const rows = await sql<{ id: number; processed: boolean; last_error: string | null }>(
          `select id::int as id, processed_at is not null as processed, last_error from webhook_inbox
            where id = any($1) order by id`,
          [inboxIds],
        );
        const poisoned = inboxIds[position];
        assert.deepEqual(
          rows.filter((r) => r.id !== poisoned && (!r.processed || r.last_error)),
          [],
          `position ${position}: every other delivery of the batch processed, without an error`,
        );
        assert.equal(stored.n, valid.length, `position ${position}: every valid event stored`);
        const bad = rows.find((r) => r.id === poisoned)!;
        assert.ok(
          (bad.processed && !bad.last_error) || bad.last_error,
          `position ${position}: the poisoned delivery is stored, or set aside with its reason`,
        );
      }
      await recordFigures("faults", `poison item (${poison.name}) in every batch position`, {
        batch_size: size,
        positions: size,
        valid_events: validEvents,
        stored_first_pass: storedFirstPass,
        lost: validEvents - storedFirstPass,
        duplicated: 0,
      });
    } finally {
      await ch.close();
    }
  });
}
