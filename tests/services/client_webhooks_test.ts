import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import type { Job } from "../../src/ports/jobs.ts";
import { clientWebhooks } from "../../src/services/client_webhooks.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { sql } from "../_support/stack.ts";

/** A local receiver that records what it gets and answers with the next scripted status. */
function receiver(script: number[] = []) {
  const got: Array<{ headers: Headers; body: string }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ headers: req.headers, body: await req.text() });
    const status = script.shift() ?? 200;
    return status >= 300 && status < 400
      ? new Response(null, {
        status,
        headers: { location: "http://169.254.169.254/latest/meta-data" },
      })
      : new Response("ok", { status });
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    got,
    close: () => server.shutdown(),
  };
}

Deno.test("an inbound message reaches the client's endpoint signed per Standard Webhooks; the stored payload is encrypted", async () => {
  const ch = await startChannel();
  const rx = receiver();
  try {
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: rx.url, event_types: ["message.received"] }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = created.body.secret;
    assert.match(secret, /^whsec_/);
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900777", "text", { text: { body: "Is it in stock?" } }),
      ),
    );
    await eventually(() => Promise.resolve(rx.got.length > 0), "the delivery");
    const { headers, body } = rx.got[0];
    const event = new Webhook(secret).verify(body, {
      "webhook-id": headers.get("webhook-id")!,
      "webhook-timestamp": headers.get("webhook-timestamp")!,
      "webhook-signature": headers.get("webhook-signature")!,
    }) as { type: string; data: { text: string; from: string } };
    assert.equal(event.type, "message.received");
    assert.equal(event.data.text, "Is it in stock?");
    assert.equal(event.data.from, "447700900777");
    await eventually(async () => {
      const [d] = await sql<{ status: string }>(
        "select status from webhook_deliveries where client_id = $1",
        [ch.clientId],
      );
      return d?.status === "succeeded";
    }, "the delivery to be recorded as succeeded");
    const [stored] = await sql<{ payload_ciphertext: string }>(
      "select payload_ciphertext from webhook_deliveries where client_id = $1",
      [ch.clientId],
    );
    assert.ok(!stored.payload_ciphertext.includes("stock"), "payload encrypted at rest");
    const [endpoint] = await sql<{ secret_ciphertext: string }>(
      "select secret_ciphertext from webhook_endpoints where client_id = $1",
      [ch.clientId],
    );
    assert.ok(!endpoint.secret_ciphertext.includes(secret.slice(6, 20)));
  } finally {
    await ch.close();
    await rx.close();
  }
});

async function deliveryHarness(options: { disableAfterMs?: number; script: number[] }) {
  const ch = await startChannel();
  const rx = receiver(options.script);
  const rung: Array<{ jobs: Job[]; delayMs?: number }> = [];
  const hooks = clientWebhooks({
    ...ch.app.deps.services,
    doorbell: { ring: (jobs, o) => (rung.push({ jobs, delayMs: o?.delayMs }), Promise.resolve()) },
    allowPrivate: true,
    schedule: [0, 0, 0],
    disableAfterMs: options.disableAfterMs,
  });
  const created = await ch.api("/v1/webhook-endpoints", {
    method: "POST",
    body: JSON.stringify({ url: rx.url }),
  });
  assert.equal(created.status, 201);
  const [job] = await hooks.publisher.publish({
    clientId: ch.clientId,
    type: "message.status",
    data: { status: "read" },
  }) as Array<{ clientId: string; deliveryId: string }>;
  return {
    ch,
    rx,
    hooks,
    job,
    rung,
    endpointId: created.body.endpoint.id as string,
    secret: created.body.secret as string,
  };
}

Deno.test("a failed delivery is retried with the same webhook-id until it succeeds", async () => {
  const h = await deliveryHarness({ script: [500, 503, 200] });
  try {
    assert.equal((await h.hooks.deliver(h.job)).outcome, "retrying");
    assert.equal(h.rung.length, 1, "the retry is rung");
    assert.equal((await h.hooks.deliver(h.job)).outcome, "retrying");
    assert.equal((await h.hooks.deliver(h.job)).outcome, "succeeded");
    const ids = new Set(h.rx.got.map((g) => g.headers.get("webhook-id")));
    assert.equal(h.rx.got.length, 3);
    assert.equal(ids.size, 1);
    const [d] = await sql<{ attempts: number; status: string; last_status_code: number }>(
      "select attempts, status, last_status_code from webhook_deliveries where id = $1",
      [h.job.deliveryId],
    );
    assert.deepEqual(d, { attempts: 3, status: "succeeded", last_status_code: 200 });
    const [e] = await sql<{ consecutive_failures: number; failing_since: Date | null }>(
      "select consecutive_failures, failing_since from webhook_endpoints where id = $1",
      [h.endpointId],
    );
    assert.deepEqual(
      e,
      { consecutive_failures: 0, failing_since: null },
      "a success clears the failure record",
    );
  } finally {
    await h.ch.close();
    await h.rx.close();
  }
});

Deno.test("a redirect counts as a failure and is not followed", async () => {
  const h = await deliveryHarness({ script: [302] });
  try {
    const result = await h.hooks.deliver(h.job);
    assert.equal(result.outcome, "retrying");
    assert.equal(result.status, 302);
    assert.equal(h.rx.got.length, 1);
  } finally {
    await h.ch.close();
    await h.rx.close();
  }
});

Deno.test("an endpoint failing for longer than the limit is disabled, audited, and gets nothing more", async () => {
  const h = await deliveryHarness({ script: [500, 500], disableAfterMs: 0 });
  try {
    await h.hooks.deliver(h.job);
    const [e] = await sql<{ enabled: boolean; disabled_reason: string }>(
      "select enabled, disabled_reason from webhook_endpoints where id = $1",
      [h.endpointId],
    );
    assert.equal(e.enabled, false);
    assert.match(e.disabled_reason, /Failing since/);
    const audit = await sql(
      "select action from audit_log where target_id = $1 and action = 'webhook_endpoint.disabled'",
      [h.endpointId],
    );
    assert.equal(audit.length, 1);
    const more = await h.hooks.publisher.publish({
      clientId: h.ch.clientId,
      type: "message.status",
      data: {},
    });
    assert.deepEqual(more, [], "a disabled endpoint gets no new deliveries");
    const again = await h.ch.api(`/v1/webhook-endpoints/${h.endpointId}`, {
      method: "PATCH",
      body: JSON.stringify({ enabled: true }),
    });
    assert.equal(again.body.endpoint.enabled, true);
    assert.equal(again.body.endpoint.disabled_reason, null);
  } finally {
    await h.ch.close();
    await h.rx.close();
  }
});

Deno.test("client A's events never reach client B's endpoint", async () => {
  const a = await startChannel();
  const b = await startChannel();
  const rxB = receiver();
  try {
    assert.equal(
      (await b.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: rxB.url }),
      })).status,
      201,
    );
    await a.postWebhook(
      envelope(
        a.wabaId,
        a.phoneNumberId,
        inbound("447700900778", "text", { text: { body: "for A only" } }),
      ),
    );
    await a.idle();
    await b.idle();
    assert.equal(rxB.got.length, 0);
    const deliveriesForB = await sql("select 1 from webhook_deliveries where client_id = $1", [
      b.clientId,
    ]);
    assert.equal(deliveriesForB.length, 0);
  } finally {
    await a.close();
    await b.close();
    await rxB.close();
  }
});
