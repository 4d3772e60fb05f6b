import assert from "node:assert/strict";
import { encryptField } from "../../src/core/crypto/envelope.ts";
import type { Job } from "../../src/ports/jobs.ts";
import { sweep } from "../../src/services/sweeper.ts";
import type { TemplateSeed } from "../../tools/emulators/graph_api.ts";
import { eventually } from "../_support/channel.ts";
import { emulatedChannel } from "../_support/emulated_channel.ts";
import { sql } from "../_support/stack.ts";
import { webhookReceiver } from "../_support/webhook_receiver.ts";

/** 600 templates of every shape the store keeps: positional and named, media headers, buttons. */
function manyTemplates(n: number): TemplateSeed[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `bulk_${String(i).padStart(4, "0")}`;
    if (i % 3 === 0) {
      return {
        name,
        language: ["en_US", "pt_BR", "es"][i % 3 === 0 ? (i / 3) % 3 : 0],
        category: "MARKETING",
        components: [
          { type: "HEADER", format: "IMAGE", example: { header_handle: ["4::aW1n"] } },
          { type: "BODY", text: `Offer ${i} for {{1}}.`, example: { body_text: [["Ana"]] } },
          { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "Stop" }] },
        ],
        quality_score: "GREEN",
      };
    }
    if (i % 3 === 1) {
      return {
        name,
        parameter_format: "NAMED",
        components: [{
          type: "BODY",
          text: `Order {{order_id}} (${i}) shipped.`,
          example: { body_text_named_params: [{ param_name: "order_id", example: "#1" }] },
        }],
      };
    }
    return { name, status: i % 10 === 2 ? "PAUSED" : "APPROVED" };
  });
}

/** What a sync could change, row by row: its id, version (xmin) and update time. */
const rowVersions = (clientId: string) =>
  sql<{ id: string; xmin: string; updated_at: string }>(
    "select id, xmin::text, updated_at::text from message_templates where client_id = $1 order by id",
    [clientId],
  );

Deno.test("a sync reads every page of a WABA with 600 templates; a second sync changes nothing; a third stores exactly what changed at Meta and tells the client", async () => {
  const { ch, emulator } = await emulatedChannel(
    { TEMPLATE_SYNC_MIN_INTERVAL_SECONDS: "0" },
    {},
    { templates: [] },
  );
  const rx = webhookReceiver();
  try {
    emulator.seedTemplates(ch.wabaId, manyTemplates(600));
    const first = await ch.api("/v1/templates/sync", { method: "POST" });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const [report] = first.body.data;
    assert.deepEqual(
      { ...report, last_synced_at: Boolean(report.last_synced_at) },
      {
        waba_id: ch.wabaId,
        performed: true,
        pages: 6,
        found: 600,
        inserted: 600,
        updated: 0,
        unchanged: 0,
        deleted: 0,
        skipped: 0,
        error: null,
        last_synced_at: true,
      },
    );
    assert.equal(
      emulator.templateCalls().filter((c) => c.method === "GET").length,
      6,
      "every page was read, none twice",
    );
    const [{ n }] = await sql<{ n: number }>(
      "select count(*)::int as n from message_templates where client_id = $1",
      [ch.clientId],
    );
    assert.equal(n, 600);
    const [named] = await sql<{ parameter_format: string; components: unknown }>(
      "select parameter_format, components from message_templates where client_id = $1 and name = 'bulk_0001'",
      [ch.clientId],
    );
    assert.equal(named.parameter_format, "NAMED");

    const before = await rowVersions(ch.clientId);
    const second = (await ch.api("/v1/templates/sync", { method: "POST" })).body.data[0];
    assert.deepEqual(
      [second.performed, second.found, second.inserted, second.updated, second.deleted],
      [true, 600, 0, 0, 0],
    );
    assert.equal(second.unchanged, 600);
    assert.deepEqual(await rowVersions(ch.clientId), before, "no row was written again");

    // the client hears of what changes from here on
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: rx.url, event_types: ["template.status", "template.quality"] }),
    });
    const secret = created.body.secret;
    const list = emulator.templates(ch.wabaId);
    emulator.seedTemplates(ch.wabaId, [
      { ...list[4], quality_score: "RED", status: "PAUSED" },
      { name: "brand_new", language: "en_US" },
    ]);
    emulator.deleteTemplate(ch.wabaId, "bulk_0007");
    const third = (await ch.api("/v1/templates/sync", { method: "POST" })).body.data[0];
    assert.deepEqual(
      [third.found, third.inserted, third.updated, third.deleted, third.unchanged],
      [600, 1, 1, 1, 598],
    );
    await eventually(() => Promise.resolve(rx.events(secret).length === 3), "three events");
    const byType = (type: string) =>
      rx.events(secret).filter((e) => e.type === type).map((e) =>
        `${e.data.name}:${type === "template.status" ? e.data.status : e.data.quality_score}`
      );
    assert.deepEqual(byType("template.status").sort(), ["bulk_0004:PAUSED", "bulk_0007:DELETED"]);
    assert.deepEqual(byType("template.quality"), ["bulk_0004:RED"]);
  } finally {
    await ch.close();
    await rx.close();
  }
});

Deno.test("a sync Meta refuses keeps the store as it was and records why", async () => {
  const { ch, emulator } = await emulatedChannel({ TEMPLATE_SYNC_MIN_INTERVAL_SECONDS: "0" });
  try {
    emulator.seedTemplates(ch.wabaId, [{ name: "only_at_meta" }]);
    const dek = await ch.app.deps.services.dataKeys.forClient(ch.clientId);
    await sql("update whatsapp_business_accounts set access_token_ciphertext = $1 where id = $2", [
      await encryptField(dek, "EXPIRED-TOKEN", `wa_token:${ch.wabaId}`),
      ch.wabaAccountId,
    ]);
    const before = await rowVersions(ch.clientId);
    const [report] = (await ch.api("/v1/templates/sync", { method: "POST" })).body.data;
    assert.equal(report.performed, true);
    assert.match(report.error, /refused the template list.*code 190/);
    assert.equal(report.last_synced_at, null);
    assert.deepEqual(await rowVersions(ch.clientId), before, "nothing written, nothing deleted");
    const [state] = await sql<{ last_error: string; locked_until: string | null }>(
      "select last_error, locked_until from message_template_syncs where waba_account_id = $1",
      [ch.wabaAccountId],
    );
    assert.match(state.last_error, /code 190/);
    assert.equal(state.locked_until, null, "the lease is let go");
    assert.ok(!JSON.stringify(state).includes("EXPIRED-TOKEN"));
  } finally {
    await ch.close();
  }
});

Deno.test("a newly connected account is due a sync at the next sweep, which fills its store; it is not due again until its interval", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, { templates: [] });
  try {
    emulator.seedTemplates(ch.wabaId, [{ name: "welcome" }, { name: "receipt", language: "fr" }]);
    // as the operator CLI leaves a new account: no sync yet
    await sql("delete from message_template_syncs where waba_account_id = $1", [ch.wabaAccountId]);
    const services = ch.app.deps.services;
    const rung: Job[] = [];
    await sweep({
      ...services,
      doorbell: { ring: (jobs) => (rung.push(...jobs), Promise.resolve()) },
    }, {
      extra: [ch.app.deps.templates.due],
    });
    const job = rung.find((j) =>
      j.kind === "template_sync" && j.wabaAccountId === ch.wabaAccountId
    );
    assert.ok(job?.kind === "template_sync", "the sweep rings the new account's sync");
    assert.equal(job.clientId, ch.clientId);
    await ch.app.handleJobs([job]);
    const names = await sql<{ name: string }>(
      "select name from message_templates where client_id = $1 order by name",
      [ch.clientId],
    );
    assert.deepEqual(names.map((r) => r.name), ["receipt", "welcome"]);
    const due = await ch.app.deps.templates.due(10_000);
    assert.ok(
      !due.some((j) => j.kind === "template_sync" && j.wabaAccountId === ch.wabaAccountId),
      "synced now: not due again",
    );
    await sql(
      "update message_template_syncs set last_synced_at = now() - interval '7 hours', last_attempt_at = now() - interval '7 hours' where waba_account_id = $1",
      [ch.wabaAccountId],
    );
    const later = await ch.app.deps.templates.due(10_000);
    assert.ok(
      later.some((j) => j.kind === "template_sync" && j.wabaAccountId === ch.wabaAccountId),
      "due again after TEMPLATE_SYNC_INTERVAL_SECONDS (6 h by default)",
    );
  } finally {
    await ch.close();
  }
});

Deno.test("concurrent sends of a template the store lacks share one sync of the account", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, { templates: [] });
  try {
    await sql(
      "update message_template_syncs set last_attempt_at = now() - interval '1 hour' where waba_account_id = $1",
      [ch.wabaAccountId],
    );
    emulator.seedTemplates(ch.wabaId, [{ name: "flash_sale" }]);
    const sends = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify({
          to: `4477009011${String(i).padStart(2, "0")}`,
          type: "template",
          template: { name: "flash_sale", language: { code: "en_US" } },
        }),
      })));
    assert.deepEqual(sends.map((s) => s.status), Array(20).fill(202));
    assert.equal(emulator.templateCalls().filter((c) => c.method === "GET").length, 1);
    await eventually(
      () => Promise.resolve(emulator.messages().length === 20),
      "the 20 sends at the emulator",
    );
  } finally {
    await ch.close();
  }
});
