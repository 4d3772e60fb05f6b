import assert from "node:assert/strict";
import * as z from "zod";
import { optOut } from "../../plugins/opt_out/mod.ts";
import { definePlugin } from "../../src/plugin_api/mod.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { sql } from "../_support/stack.ts";

/** Fails every call, the same way each time. */
const broken = definePlugin({
  id: "always-broken",
  version: "1.0.0",
  name: "Always broken",
  enabledByDefault: true,
  config: z.object({}),
  maxAttempts: 2,
  on: { "message.received": () => Promise.reject(new Error("upstream said no (HTTP 500)")) },
});

/** Never answers, whatever the deadline. */
const hanging = definePlugin({
  id: "never-answers",
  version: "1.0.0",
  name: "Never answers",
  enabledByDefault: true,
  config: z.object({}),
  timeoutMs: 200,
  maxAttempts: 1,
  on: { "message.received": () => new Promise<void>(() => {}) },
});

/** Keeps each message it hears of in its state. */
const recorder = definePlugin({
  id: "recorder",
  version: "1.0.0",
  name: "Recorder",
  enabledByDefault: true,
  config: z.object({}),
  on: {
    "message.received": async (event, ctx) => {
      await ctx.state.set(`heard:${event.data.wamid}`, event.data.text);
    },
  },
});

function receiver() {
  const types: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    types.push((await req.json()).type);
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    types: () => [...types],
    close: () => server.shutdown(),
  };
}

Deno.test("a plugin whose handler throws on every call, and one that never answers, stop neither another plugin, the client's webhooks nor the inbox; both are parked with their errors, visible through the API", async () => {
  const rx = receiver();
  const ch = await startChannel({
    plugins: { plugins: [broken, hanging, recorder, optOut], pluginRetryDelaysMs: [0] },
  });
  try {
    const endpoint = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: rx.url, event_types: ["message.received"] }),
    });
    assert.equal(endpoint.status, 201);
    for (const [from, text] of [["447700900721", "Where is my order?"], ["447700900722", "STOP"]]) {
      const res = await ch.postWebhook(
        envelope(ch.wabaId, ch.phoneNumberId, inbound(from, "text", { text: { body: text } })),
      );
      assert.equal(res.status, 200);
    }

    // the inbox: both messages stored, the deliveries finished
    await eventually(
      async () =>
        (await sql("select 1 from messages where client_id = $1 and direction = 'inbound'", [
          ch.clientId,
        ])).length === 2,
      "the messages",
    );
    // the client's webhooks
    await eventually(
      () => Promise.resolve(rx.types().filter((t) => t === "message.received").length === 2),
      "both message.received webhooks",
    );
    // another plugin
    await eventually(
      async () =>
        (await sql("select 1 from plugin_state where client_id = $1 and plugin_id = 'recorder'", [
          ch.clientId,
        ])).length === 2,
      "the recorder's two events",
    );
    await eventually(
      async () =>
        (await sql("select 1 from contacts where client_id = $1 and consent_status = 'opted_out'", [
          ch.clientId,
        ])).length === 1,
      "the opt-out",
    );

    const parked = async (id: string) => {
      const res = await ch.api(`/v1/plugins/${id}`);
      assert.equal(res.status, 200);
      return res.body.installation.parked as Array<
        { attempts: number; last_error: string; event_type: string }
      >;
    };
    const brokenParked = await eventually(async () => {
      const list = await parked("always-broken");
      return list.length === 2 ? list : null;
    }, "the broken plugin's events parked");
    for (const event of brokenParked) {
      assert.equal(event.event_type, "message.received");
      assert.equal(event.attempts, 2, "retried once, by policy, then parked");
      assert.equal(event.last_error, "upstream said no (HTTP 500)");
    }
    const hangingParked = await eventually(async () => {
      const list = await parked("never-answers");
      return list.length === 2 ? list : null;
    }, "the hanging plugin's events parked");
    assert.ok(hangingParked.every((e) => e.last_error === "Timed out after 200 ms"));
    assert.deepEqual(await parked("recorder"), []);

    // sent again on request: each is retried by policy and parked again
    const retried = await ch.api("/v1/plugins/always-broken/retry", { method: "POST" });
    assert.equal(retried.status, 202);
    assert.equal(retried.body.retried, 2);
    await eventually(async () => {
      const rows = await sql<{ status: string; attempts: number }>(
        "select status, attempts from plugin_deliveries where client_id = $1 and plugin_id = 'always-broken'",
        [ch.clientId],
      );
      return rows.length === 2 && rows.every((r) => r.status === "parked" && r.attempts === 2);
    }, "parked again after the retry");
  } finally {
    await ch.close();
    await rx.close();
  }
});

Deno.test("a parked event's payload stays encrypted, and a handled one's is dropped", async () => {
  const ch = await startChannel({
    plugins: { plugins: [broken, recorder], pluginRetryDelaysMs: [0] },
  });
  try {
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900731", "text", { text: { body: "my card is 4111 1111" } }),
      ),
    );
    const rows = await eventually(async () => {
      const found = await sql<{ plugin_id: string; status: string; payload: string | null }>(
        "select plugin_id, status, payload_ciphertext as payload from plugin_deliveries where client_id = $1 order by plugin_id",
        [ch.clientId],
      );
      return found.length === 2 && found.every((r) => r.status !== "pending") ? found : null;
    }, "both handled or parked");
    assert.equal(rows[0].plugin_id, "always-broken");
    assert.equal(rows[0].status, "parked");
    assert.ok(rows[0].payload && !rows[0].payload.includes("4111"), "kept, encrypted");
    assert.deepEqual(rows[1], { plugin_id: "recorder", status: "succeeded", payload: null });
  } finally {
    await ch.close();
  }
});
