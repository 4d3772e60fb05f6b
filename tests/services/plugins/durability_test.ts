import assert from "node:assert/strict";
import { localDoorbell } from "../../../src/adapters/deno/local_doorbell.ts";
import { jsonLogger } from "../../../src/adapters/logging/json_logger.ts";
import type { Job } from "../../../src/ports/jobs.ts";
import { eventually, startChannel } from "../../_support/channel.ts";
import { envelope, inbound } from "../../_support/meta_fixtures.ts";
import { sql, testApp } from "../../_support/stack.ts";

Deno.test("a crash between a STOP and the opt-out plugin's reaction loses nothing: the plugin's delivery was stored with the message, and a sweep after the restart runs it", async () => {
  // the process dies after the ingest: every plugin job it rings is lost
  const lost: Job[] = [];
  const ch = await startChannel({
    doorbell: (handle) => {
      const bell = localDoorbell({
        handle,
        logger: jsonLogger({ level: "error", write: () => {} }),
      });
      return {
        ring: (jobs, options) => {
          lost.push(...jobs.filter((j) => j.kind === "plugin_event"));
          return bell.ring(jobs.filter((j) => j.kind !== "plugin_event"), options);
        },
      };
    },
  });
  const contact = "447700900741";
  const consent = async () =>
    (await sql<{ consent_status: string }>(
      "select consent_status from contacts where client_id = $1 and wa_id = $2",
      [ch.clientId, contact],
    ))[0]?.consent_status;
  try {
    const res = await ch.postWebhook(
      envelope(ch.wabaId, ch.phoneNumberId, inbound(contact, "text", { text: { body: "STOP" } })),
    );
    assert.equal(res.status, 200);
    await eventually(() => Promise.resolve(lost.length === 1), "the plugin's job, rung and lost");
    const [row] = await sql<{ plugin_id: string; status: string; attempts: number }>(
      "select plugin_id, status, attempts from plugin_deliveries where id = $1",
      [(lost[0] as { deliveryId: string }).deliveryId],
    );
    assert.deepEqual(row, { plugin_id: "opt-out", status: "pending", attempts: 0 });
    assert.equal(await consent(), "unknown", "not opted out yet");

    const restarted = await testApp();
    try {
      await restarted.sweep();
      await eventually(
        async () => (await consent()) === "opted_out",
        "the opt-out after the sweep",
      );
    } finally {
      restarted.bell!.close();
    }
  } finally {
    await ch.close();
  }
});
