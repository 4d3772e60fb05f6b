import assert from "node:assert/strict";
import { benchChannel } from "../../bench/channel_stack.ts";
import { eventually } from "../_support/channel.ts";
import {
  buildEnvelope,
  buildInbound,
  buildMessagesChange,
  signedRequestInit,
} from "../_support/meta_payloads.ts";

/**
 * On Workers a signed delivery is acknowledged once the queue holds it; the consumer records it.
 * Here the database is away (PostgREST stopped) while Meta delivers and the consumer first tries:
 * every delivery is still answered 200, and once PostgREST is back each is stored exactly once.
 * The deploy bundle runs in workerd, its queue consumer driven as Cloudflare drives it, on a
 * stack of its own (bench/channel_stack.ts).
 */
Deno.test("on Workers, deliveries acknowledged while the database is away are stored once it is back, each exactly once", async () => {
  const ch = await benchChannel({ runtime: "workerd" });
  try {
    const tag = crypto.randomUUID().slice(0, 8);
    const count = 12;
    await ch.stack.control.stopPostgrest();
    for (let i = 0; i < count; i++) {
      const body = buildEnvelope([
        buildMessagesChange({
          phoneNumberId: ch.phoneNumberId,
          inbound: [
            buildInbound({
              type: "text",
              id: `wamid.DUR${tag}_${i}`,
              waId: `4477009${String(i).padStart(5, "0")}`,
            }),
          ],
        }),
      ], { wabaId: ch.wabaId });
      const init = await signedRequestInit(body, ch.stack.secrets.meta_app_secret);
      const res = await fetch(`${ch.appUrl}/webhooks/whatsapp`, init);
      assert.equal(res.status, 200, `delivery ${i} is acknowledged: ${await res.text()}`);
    }
    // the consumer's first attempt (within the queue's batch timeout) finds no database
    await new Promise((r) => setTimeout(r, 2500));
    await ch.stack.control.startPostgrest();
    const stored = await eventually(
      async () => {
        const [row] = await ch.sql<{ n: string; d: string }>(
          `select count(*) as n, count(distinct wamid) as d from messages
          where direction = 'inbound' and wamid like $1`,
          [`wamid.DUR${tag}\\_%`],
        );
        return Number(row.d) === count ? { rows: Number(row.n), distinct: Number(row.d) } : null;
      },
      "every acknowledged delivery to be stored",
      60_000,
    );
    assert.deepEqual(stored, { rows: count, distinct: count });
    const [inbox] = await ch.sql<{ n: string; open: string }>(
      `select count(*) as n, count(*) filter (where processed_at is null) as open
         from webhook_inbox where provider = 'meta'`,
    );
    assert.deepEqual({ rows: Number(inbox.n), open: Number(inbox.open) }, {
      rows: count,
      open: 0,
    });
  } finally {
    await ch.close();
  }
});
