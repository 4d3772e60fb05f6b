import assert from "node:assert/strict";
// the reference Standard Webhooks implementation, as an independent check of what we send
import { Webhook } from "standardwebhooks";
import { pinnedWebhookEgress } from "../../src/adapters/deno/pinned_webhook_egress.ts";
import { verifyStandardWebhook } from "../../src/core/webhooks/standard_webhooks.ts";
import type { Job } from "../../src/ports/jobs.ts";
import { clientWebhooks, type WebhookDeps } from "../../src/services/client_webhooks.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { startTestDns } from "../_support/dns_server.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { sql } from "../_support/stack.ts";

type Received = { headers: Headers; body: string };

/**
 * A local receiver that records what it gets and answers each request with the next scripted
 * status (200 once the script runs out): a 3xx points at the cloud metadata address, `"hang"`
 * never answers until the receiver closes.
 */
function receiver(script: Array<number | "hang"> = []) {
  const got: Received[] = [];
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ headers: req.headers, body: await req.text() });
    const next = script.shift() ?? 200;
    if (next === "hang") {
      await released;
      return new Response("too late", { status: 200 });
    }
    return next >= 300 && next < 400
      ? new Response(null, {
        status: next,
        headers: { location: "http://169.254.169.254/latest/meta-data" },
      })
      : new Response("ok", { status: next });
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    got,
    async close() {
      release();
      await server.shutdown();
    },
  };
}

/** Checks one received request with the reference library and with our own verifier. */
async function verified(secret: string, r: Received) {
  const headers = {
    "webhook-id": r.headers.get("webhook-id")!,
    "webhook-timestamp": r.headers.get("webhook-timestamp")!,
    "webhook-signature": r.headers.get("webhook-signature")!,
  };
  const event = new Webhook(secret).verify(r.body, headers);
  assert.deepEqual(
    await verifyStandardWebhook({ secret, headers: r.headers, body: r.body }),
    { valid: true },
  );
  return event as { type: string; timestamp: string; data: Record<string, unknown> };
}

Deno.test("an inbound message reaches the client's endpoint signed per Standard Webhooks, and its copy is dropped once delivered", async () => {
  const ch = await startChannel();
  const rx = receiver();
  try {
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: rx.url, event_types: ["message.received"] }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = created.body.secret;
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900777", "text", { text: { body: "Is it in stock?" } }),
      ),
    );
    await eventually(() => Promise.resolve(rx.got.length > 0), "the delivery");
    const { headers } = rx.got[0];
    assert.equal(headers.get("content-type"), "application/json");
    assert.equal(headers.get("user-agent"), "glooft-edge-webhooks/1");
    assert.match(headers.get("webhook-id")!, /^evt_[0-9a-f]{32}$/);
    const event = await verified(secret, rx.got[0]);
    assert.equal(event.type, "message.received");
    assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
    assert.equal(event.data.text, "Is it in stock?");
    assert.equal(event.data.from, "447700900777");

    await eventually(async () => {
      const [d] = await sql<{ status: string }>(
        "select status from webhook_deliveries where client_id = $1",
        [ch.clientId],
      );
      return d?.status === "succeeded";
    }, "the delivery to be recorded as succeeded");
    const [stored] = await sql<{ payload_ciphertext: string | null; event_id: string }>(
      "select payload_ciphertext, event_id from webhook_deliveries where client_id = $1",
      [ch.clientId],
    );
    assert.equal(stored.event_id, headers.get("webhook-id"));
    assert.equal(stored.payload_ciphertext, null, "a delivered event's copy is not kept");
    const [endpoint] = await sql<{ secret_ciphertext: string }>(
      "select secret_ciphertext from webhook_endpoints where client_id = $1",
      [ch.clientId],
    );
    assert.ok(!endpoint.secret_ciphertext.includes(secret.slice(6, 20)), "secret encrypted");
  } finally {
    await ch.close();
    await rx.close();
  }
});

/**
 * A client with one endpoint (subscribed to everything) on a scripted receiver, a webhooks
 * service whose retries are immediate and whose doorbell only records, and one published event.
 */
async function deliveryHarness(
  script: Array<number | "hang">,
  options: Partial<
    Pick<
      WebhookDeps,
      "disable" | "schedule" | "timeoutMs" | "allowPrivate" | "claimOnRecordSeconds"
    >
  > = {},
) {
  const ch = await startChannel();
  const rx = receiver(script);
  const rung: Array<{ jobs: Job[]; delayMs?: number }> = [];
  const hooks = clientWebhooks({
    ...ch.app.deps.services,
    doorbell: { ring: (jobs, o) => (rung.push({ jobs, delayMs: o?.delayMs }), Promise.resolve()) },
    allowPrivate: true,
    schedule: [0, 0, 0],
    ...options,
  });
  const created = await ch.api("/v1/webhook-endpoints", {
    method: "POST",
    body: JSON.stringify({ url: rx.url }),
  });
  assert.equal(created.status, 201);
  const [job] = await hooks.publisher.publish([{
    clientId: ch.clientId,
    type: "message.status",
    data: { id: crypto.randomUUID(), wamid: "wamid.X", status: "read", errors: [] },
  }]) as Array<Extract<Job, { kind: "webhook_delivery" }>>;
  const endpointId = created.body.endpoint.id as string;
  return {
    ch,
    rx,
    hooks,
    job,
    rung,
    endpointId,
    secret: created.body.secret as string,
    delivery: async () =>
      (await sql<{ attempts: number; status: string; last_status_code: number | null }>(
        "select attempts, status, last_status_code, last_error from webhook_deliveries where id = $1",
        [job.deliveryId],
      ))[0],
    endpoint: async () =>
      (await sql<
        {
          enabled: boolean;
          disabled_reason: string | null;
          consecutive_failures: number;
          failing_since: Date | null;
        }
      >(
        "select enabled, disabled_reason, consecutive_failures, failing_since from webhook_endpoints where id = $1",
        [endpointId],
      ))[0],
    async close() {
      await ch.close();
      await rx.close();
    },
  };
}

Deno.test("a delivery waiting to be sent is stored encrypted with the client's key", async () => {
  const ch = await startChannel();
  try {
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: "http://127.0.0.1:9/never-called" }),
    });
    assert.equal(created.status, 201);
    // recorded, not rung: it waits as it would for its first attempt or a retry
    const hooks = clientWebhooks({ ...ch.app.deps.services, allowPrivate: true });
    await hooks.publisher.publish([{
      clientId: ch.clientId,
      type: "message.received",
      data: { text: "Is it in stock?", from: "447700900777" },
    }]);
    const [stored] = await sql<{ payload_ciphertext: string; status: string }>(
      "select payload_ciphertext, status from webhook_deliveries where client_id = $1",
      [ch.clientId],
    );
    assert.equal(stored.status, "pending");
    assert.match(stored.payload_ciphertext, /^e1\./);
    assert.ok(!stored.payload_ciphertext.includes("stock"), "payload encrypted at rest");
    assert.ok(!stored.payload_ciphertext.includes("447700900777"), "sender encrypted at rest");
  } finally {
    await ch.close();
  }
});

Deno.test("a failed delivery is retried with the same webhook-id and a fresh signature until it succeeds", async () => {
  const h = await deliveryHarness([500, 503, 200]);
  try {
    const first = await h.hooks.deliver(h.job);
    assert.deepEqual(first, {
      outcome: "retrying",
      status: 500,
      error: "HTTP 500",
      endpointDisabled: false,
    });
    assert.deepEqual(h.rung, [{ jobs: [{ ...h.job }], delayMs: 0 }]);
    assert.equal((await h.hooks.deliver(h.job)).outcome, "retrying");
    assert.deepEqual(await h.hooks.deliver(h.job), { outcome: "succeeded", status: 200 });

    assert.equal(h.rx.got.length, 3);
    assert.equal(new Set(h.rx.got.map((g) => g.headers.get("webhook-id"))).size, 1);
    for (const got of h.rx.got) {
      assert.equal((await verified(h.secret, got)).type, "message.status");
    }
    assert.deepEqual(await h.delivery(), {
      attempts: 3,
      status: "succeeded",
      last_status_code: 200,
      last_error: null,
    });
    const endpoint = await h.endpoint();
    assert.equal(endpoint.consecutive_failures, 0, "a success clears the failure streak");
    assert.equal(endpoint.failing_since, null);
    assert.equal((await h.hooks.deliver(h.job)).outcome, "skipped", "a finished delivery stays so");
  } finally {
    await h.close();
  }
});

Deno.test("a receiver that does not answer in time counts as a failure and is retried", async () => {
  const h = await deliveryHarness(["hang"], { timeoutMs: 200 });
  try {
    const result = await h.hooks.deliver(h.job);
    assert.deepEqual(result, {
      outcome: "retrying",
      status: null,
      error: "Timed out",
      endpointDisabled: false,
    });
    assert.equal((await h.delivery()).status, "pending");
  } finally {
    await h.close();
  }
});

Deno.test("a redirect towards a private address counts as a failure and is not followed", async () => {
  const h = await deliveryHarness([302, 307]);
  try {
    const result = await h.hooks.deliver(h.job);
    assert.equal(result.outcome, "retrying");
    assert.equal("status" in result && result.status, 302);
    assert.equal(h.rx.got.length, 1, "the redirect was not followed");
    assert.deepEqual(await h.delivery(), {
      attempts: 1,
      status: "pending",
      last_status_code: 302,
      last_error: "HTTP 302",
    });
  } finally {
    await h.close();
  }
});

Deno.test("a delivery whose retries run out is marked failed and not rung again", async () => {
  const h = await deliveryHarness([500, 500], { schedule: [0] });
  try {
    assert.equal((await h.hooks.deliver(h.job)).outcome, "retrying");
    const last = await h.hooks.deliver(h.job);
    assert.equal(last.outcome, "failed");
    assert.equal(h.rung.length, 1, "only the first failure rang a retry");
    assert.equal((await h.delivery()).status, "failed");
    assert.deepEqual(
      await h.hooks.due(1_000).then((jobs) =>
        jobs.filter((j) => j.kind === "webhook_delivery" && j.deliveryId === h.job.deliveryId)
      ),
      [],
    );
  } finally {
    await h.close();
  }
});

Deno.test("a delivery written claimed makes its first attempt from its job; its retry claims the row and sends the same event", async () => {
  const h = await deliveryHarness([500, 200], { claimOnRecordSeconds: 60 });
  try {
    assert.ok(h.job.claimed, "the job carries the delivery");
    const [row] = await sql<{ leased: boolean }>(
      "select locked_until > now() + interval '50 seconds' as leased from webhook_deliveries where id = $1",
      [h.job.deliveryId],
    );
    assert.equal(row.leased, true, "written with its lease");
    assert.equal((await h.hooks.deliver(h.job)).outcome, "retrying");
    assert.equal(h.rung.length, 1);
    const [retry] = h.rung[0].jobs;
    assert.deepEqual(retry, {
      kind: "webhook_delivery",
      clientId: h.job.clientId,
      deliveryId: h.job.deliveryId,
    }, "the retry carries no body: it claims the row");
    assert.equal((await h.hooks.deliver(retry as typeof h.job)).outcome, "succeeded");
    assert.equal(h.rx.got.length, 2);
    const [first, second] = await Promise.all(h.rx.got.map((r) => verified(h.secret, r)));
    assert.deepEqual(second, first, "the same event, its body read back from the row");
    assert.equal(h.rx.got[1].headers.get("webhook-id"), h.rx.got[0].headers.get("webhook-id"));
    assert.deepEqual(await h.delivery(), {
      attempts: 2,
      status: "succeeded",
      last_status_code: 200,
      last_error: null,
    });
  } finally {
    await h.close();
  }
});

Deno.test("a delivery written claimed whose job is lost waits out its lease, then the sweeper's due list takes it", async () => {
  const h = await deliveryHarness([], { claimOnRecordSeconds: 60 });
  try {
    const mine = async () =>
      (await h.hooks.due(1_000)).filter((j) =>
        j.kind === "webhook_delivery" && j.deliveryId === h.job.deliveryId
      );
    assert.deepEqual(await mine(), [], "not due while its own job holds it");
    // the process that held it died: the lease runs out (moved into the past, not waited for)
    await sql(
      "update webhook_deliveries set locked_until = now() - interval '1 second' where id = $1",
      [
        h.job.deliveryId,
      ],
    );
    const [swept] = await mine();
    assert.ok(swept, "due once the lease ran out");
    assert.equal((await h.hooks.deliver(swept as typeof h.job)).outcome, "succeeded");
    assert.equal((await verified(h.secret, h.rx.got[0])).type, "message.status");
    assert.equal(h.rx.got.length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("a delivery written claimed reads its endpoint at the attempt: a secret rotated since signs it, a disabled endpoint cancels it", async () => {
  const h = await deliveryHarness([], { claimOnRecordSeconds: 60 });
  try {
    const rotated = await h.ch.api(`/v1/webhook-endpoints/${h.endpointId}/rotate-secret`, {
      method: "POST",
    });
    assert.equal(rotated.status, 200);
    assert.equal((await h.hooks.deliver(h.job)).outcome, "succeeded");
    await verified(rotated.body.secret, h.rx.got[0]);

    const [next] = await h.hooks.publisher.publish([{
      clientId: h.ch.clientId,
      type: "message.status",
      data: { id: crypto.randomUUID(), wamid: "wamid.Y", status: "read", errors: [] },
    }]) as Array<typeof h.job>;
    const off = await h.ch.api(`/v1/webhook-endpoints/${h.endpointId}`, {
      method: "PATCH",
      body: JSON.stringify({ enabled: false }),
    });
    assert.equal(off.status, 200);
    assert.equal((await h.hooks.deliver(next)).outcome, "cancelled");
    assert.equal(h.rx.got.length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("the sweeper finds a delivery whose retry is due, and not one that succeeded", async () => {
  const h = await deliveryHarness([500, 200]);
  try {
    const mine = async () =>
      (await h.hooks.due(1_000)).filter((j) =>
        j.kind === "webhook_delivery" && j.deliveryId === h.job.deliveryId
      );
    assert.equal((await mine()).length, 1, "a new delivery is due at once");
    await h.hooks.deliver(h.job);
    assert.deepEqual(await mine(), [{ ...h.job }]);
    await h.hooks.deliver(h.job);
    assert.deepEqual(await mine(), []);
  } finally {
    await h.close();
  }
});

Deno.test("an endpoint failing for longer than the limit is disabled once, audited, and gets nothing more until re-enabled", async () => {
  const h = await deliveryHarness([500, 500], { disable: { afterMs: 0 } });
  try {
    const result = await h.hooks.deliver(h.job);
    assert.equal("endpointDisabled" in result && result.endpointDisabled, true);
    assert.equal(h.rung.length, 0, "no retry is rung for a disabled endpoint");
    const endpoint = await h.endpoint();
    assert.equal(endpoint.enabled, false);
    assert.match(endpoint.disabled_reason!, /^1 consecutive failures since .+ \(last: HTTP 500\)$/);
    const audit = await sql<{ actor: string }>(
      "select actor from audit_log where target_id = $1 and action = 'webhook_endpoint.disabled'",
      [h.endpointId],
    );
    assert.deepEqual(audit, [{ actor: "system:webhooks" }]);

    assert.equal(
      (await h.hooks.deliver(h.job)).outcome,
      "cancelled",
      "its pending retry is dropped",
    );
    const more = await h.hooks.publisher.publish([{
      clientId: h.ch.clientId,
      type: "message.status",
      data: {},
    }]);
    assert.deepEqual(more, [], "a disabled endpoint gets no new deliveries");

    const again = await h.ch.api(`/v1/webhook-endpoints/${h.endpointId}`, {
      method: "PATCH",
      body: JSON.stringify({ enabled: true }),
    });
    assert.equal(again.body.endpoint.enabled, true);
    assert.equal(again.body.endpoint.disabled_reason, null);
    assert.equal(again.body.endpoint.consecutive_failures, 0);
    assert.equal(again.body.endpoint.failing_since, null);
    assert.equal(h.rx.got.length, 1);
  } finally {
    await h.close();
  }
});

Deno.test("an endpoint is disabled after the set number of failures in a row, not before", async () => {
  const h = await deliveryHarness([500, 500, 500], {
    disable: { afterMs: 3600_000, afterFailures: 2, failuresOverMs: 0 },
  });
  try {
    const first = await h.hooks.deliver(h.job);
    assert.equal("endpointDisabled" in first && first.endpointDisabled, false);
    assert.equal((await h.endpoint()).enabled, true);
    const second = await h.hooks.deliver(h.job);
    assert.equal("endpointDisabled" in second && second.endpointDisabled, true);
    const endpoint = await h.endpoint();
    assert.equal(endpoint.enabled, false);
    assert.equal(endpoint.consecutive_failures, 2);
  } finally {
    await h.close();
  }
});

Deno.test("many failures in a row do not disable an endpoint that has been failing only briefly", async () => {
  const h = await deliveryHarness([500, 500, 500], {
    disable: { afterFailures: 2, failuresOverMs: 3600_000 },
  });
  try {
    for (let i = 0; i < 3; i++) await h.hooks.deliver(h.job);
    const endpoint = await h.endpoint();
    assert.equal(endpoint.consecutive_failures, 3);
    assert.equal(endpoint.enabled, true);
  } finally {
    await h.close();
  }
});

Deno.test("an endpoint answering 410 Gone is disabled at once and the delivery fails", async () => {
  const h = await deliveryHarness([410]);
  try {
    const result = await h.hooks.deliver(h.job);
    assert.equal(result.outcome, "failed");
    assert.equal("endpointDisabled" in result && result.endpointDisabled, true);
    assert.equal((await h.endpoint()).disabled_reason, "The endpoint answered 410 Gone");
  } finally {
    await h.close();
  }
});

Deno.test("the URL is checked again at delivery time: a private target is not called in production", async () => {
  const h = await deliveryHarness([], { allowPrivate: false });
  try {
    const result = await h.hooks.deliver(h.job);
    assert.equal(result.outcome, "retrying");
    assert.equal("error" in result && result.error, "The URL must use https");
    assert.equal(h.rx.got.length, 0);
  } finally {
    await h.close();
  }
});

Deno.test("in production every attempt resolves the host again: a name rebound to a private address after registration fails each attempt with the reason, before connecting", async () => {
  const dns = await startTestDns();
  const ch = await startChannel();
  try {
    // registered while it pointed somewhere public (unreachable from this machine)
    const host = "rebind.example.com";
    dns.set(host, { A: ["203.0.113.10"] }, { A: ["127.0.0.1"] });
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: `https://${host}/hook` }),
    });
    assert.equal(created.status, 201);
    const rung: Job[] = [];
    const hooks = clientWebhooks({
      ...ch.app.deps.services,
      doorbell: { ring: (jobs) => (rung.push(...jobs), Promise.resolve()) },
      allowPrivate: false,
      webhookEgress: pinnedWebhookEgress({ nameServer: dns.nameServer }),
      schedule: [0, 0, 0],
      timeoutMs: 1000,
    });
    const [job] = await hooks.publisher.publish([{
      clientId: ch.clientId,
      type: "message.status",
      data: { id: crypto.randomUUID(), wamid: "wamid.R", status: "read", errors: [] },
    }]) as Array<Extract<Job, { kind: "webhook_delivery" }>>;

    const first = await hooks.deliver(job);
    assert.equal(first.outcome, "retrying");
    assert.notEqual("error" in first && first.error, undefined);
    assert.equal(dns.queries(host), 2);
    for (let attempt = 2; attempt <= 3; attempt++) {
      const next = await hooks.deliver(rung.shift() as typeof job);
      assert.equal(next.outcome, "retrying", `attempt ${attempt}`);
      assert.equal(
        "error" in next && next.error,
        "The URL must not resolve to a private or reserved address",
      );
      assert.equal(dns.queries(host), 2 * attempt, "resolved at this attempt");
    }
    const deliveries = await ch.api(
      `/v1/webhook-endpoints/${created.body.endpoint.id}/deliveries`,
    );
    assert.deepEqual(
      deliveries.body.data.map((d: { attempts: number; status: string; last_error: string }) => [
        d.status,
        d.attempts,
        d.last_error,
      ]),
      [["pending", 3, "The URL must not resolve to a private or reserved address"]],
    );
  } finally {
    await ch.close();
    await dns.close();
  }
});

Deno.test("client A's events never reach client B's endpoint, and B cannot deliver A's deliveries", async () => {
  const a = await startChannel();
  const b = await startChannel();
  const rxA = receiver();
  const rxB = receiver();
  try {
    for (const [ch, rx] of [[a, rxA], [b, rxB]] as const) {
      const created = await ch.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: rx.url }),
      });
      assert.equal(created.status, 201);
    }
    await a.postWebhook(
      envelope(
        a.wabaId,
        a.phoneNumberId,
        inbound("447700900778", "text", { text: { body: "for A only" } }),
      ),
    );
    await eventually(() => Promise.resolve(rxA.got.length > 0), "A's delivery");
    await a.idle();
    await b.idle();
    assert.equal(rxB.got.length, 0);
    assert.deepEqual(
      await sql("select 1 from webhook_deliveries where client_id = $1", [b.clientId]),
      [],
    );

    const [aDelivery] = await sql<{ id: string }>(
      "select id from webhook_deliveries where client_id = $1",
      [a.clientId],
    );
    // made due again (a delivered event has given up its payload: a stand-in goes back)
    await sql(
      "update webhook_deliveries set status = 'pending', payload_ciphertext = 'e1.iv.ct' where id = $1",
      [aDelivery.id],
    );
    const hooks = clientWebhooks({ ...b.app.deps.services, allowPrivate: true });
    assert.deepEqual(
      await hooks.deliver({ clientId: b.clientId, deliveryId: aDelivery.id }),
      { outcome: "skipped" },
      "B's RLS does not see A's delivery",
    );
    assert.equal(rxB.got.length, 0);
  } finally {
    await a.close();
    await b.close();
    await rxA.close();
    await rxB.close();
  }
});

Deno.test("events published together reach each subscribed endpoint once, each with its own event id, for each client", async () => {
  const a = await startChannel();
  const b = await startChannel();
  const rx = receiver();
  try {
    const endpoint = async (ch: typeof a, event_types: string[]) => {
      const created = await ch.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: rx.url, event_types }),
      });
      assert.equal(created.status, 201);
      return created.body.endpoint.id as string;
    };
    const everything = await endpoint(a, []);
    const statusesOnly = await endpoint(a, ["message.status"]);
    const bEndpoint = await endpoint(b, []);
    const hooks = clientWebhooks({ ...a.app.deps.services, allowPrivate: true });
    const jobs = await hooks.publisher.publish([
      { clientId: a.clientId, type: "message.received", data: { id: "m1" } },
      { clientId: a.clientId, type: "message.status", data: { id: "s1" } },
      { clientId: b.clientId, type: "message.status", data: { id: "s2" } },
      { clientId: a.clientId, type: "message.status", data: { id: "s3" } },
    ]);
    const rows = await sql<
      { id: string; client_id: string; endpoint_id: string; event_id: string; event_type: string }
    >(
      "select id, client_id, endpoint_id, event_id, event_type from webhook_deliveries where client_id = any($1) order by event_type, endpoint_id",
      [[a.clientId, b.clientId]],
    );
    // A: m1 to `everything`; s1 and s3 to both endpoints. B: s2 to its own
    const count = (endpointId: string, type: string) =>
      rows.filter((r) => r.endpoint_id === endpointId && r.event_type === type).length;
    assert.equal(rows.length, 6);
    assert.equal(count(everything, "message.received"), 1);
    assert.equal(count(statusesOnly, "message.received"), 0);
    assert.equal(count(everything, "message.status"), 2);
    assert.equal(count(statusesOnly, "message.status"), 2);
    assert.equal(count(bEndpoint, "message.status"), 1);
    // one event id per event, shared by its deliveries: 4 events
    assert.equal(new Set(rows.map((r) => r.event_id)).size, 4);
    // a job per delivery, each for the delivery's own client
    assert.deepEqual(
      jobs.map((j) => j.kind === "webhook_delivery" ? `${j.clientId}/${j.deliveryId}` : "").sort(),
      rows.map((r) => `${r.client_id}/${r.id}`).sort(),
    );
  } finally {
    await a.close();
    await b.close();
    await rx.close();
  }
});

Deno.test("deliveries made together (grouped claims and finishes) each post their own event once and all succeed", async () => {
  const ch = await startChannel();
  const rx = receiver();
  try {
    const created = await ch.api("/v1/webhook-endpoints", {
      method: "POST",
      body: JSON.stringify({ url: rx.url }),
    });
    assert.equal(created.status, 201);
    const hooks = clientWebhooks({ ...ch.app.deps.services, allowPrivate: true });
    const jobs = await hooks.publisher.publish(
      Array.from({ length: 6 }, (_, i) => ({
        clientId: ch.clientId,
        type: "message.status",
        data: { n: i },
      })),
    ) as Array<{ clientId: string; deliveryId: string }>;
    const results = await Promise.all(jobs.map((j) => hooks.deliver(j)));
    assert.deepEqual(results.map((r) => r.outcome), Array(6).fill("succeeded"));
    // each webhook-id arrived once, carrying the event recorded under it
    const rows = await sql<{ event_id: string; status: string }>(
      "select event_id, status from webhook_deliveries where client_id = $1",
      [ch.clientId],
    );
    assert.equal(rx.got.length, 6);
    const seen = rx.got.map((r) => r.headers.get("webhook-id")!);
    assert.deepEqual([...seen].sort(), rows.map((r) => r.event_id).sort());
    assert.deepEqual(
      rx.got.map((r) => (JSON.parse(r.body).data as { n: number }).n).sort(),
      [0, 1, 2, 3, 4, 5],
    );
    assert.ok(rows.every((r) => r.status === "succeeded"));
    // a second round finds nothing to claim: nothing is posted twice
    const again = await Promise.all(jobs.map((j) => hooks.deliver(j)));
    assert.deepEqual(again.map((r) => r.outcome), Array(6).fill("skipped"));
    assert.equal(rx.got.length, 6);
  } finally {
    await ch.close();
    await rx.close();
  }
});

Deno.test("a large publish is written a few hundred deliveries at a time, and only the first jobs carry their body", async () => {
  const ch = await startChannel();
  const rx = receiver();
  try {
    for (const event_types of [["message.status"], []]) {
      const created = await ch.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: rx.url, event_types }),
      });
      assert.equal(created.status, 201);
    }
    const hooks = clientWebhooks({
      ...ch.app.deps.services,
      allowPrivate: true,
      claimOnRecordSeconds: 60,
    });
    const events = 1_200;
    const jobs = await hooks.publisher.publish(
      Array.from({ length: events }, (_, i) => ({
        clientId: ch.clientId,
        type: "message.status",
        data: { n: i },
      })),
    ) as Array<Extract<Job, { kind: "webhook_delivery" }>>;
    assert.equal(jobs.length, 2 * events);
    const claimed = jobs.filter((j) => j.claimed);
    assert.equal(claimed.length, 500, "bodies in clear held by the jobs of one publish");
    const rows = await sql<{ locked: number; n: number; events: number }>(
      `select count(*)::int as n, count(locked_until)::int as locked,
         count(distinct event_id)::int as events
         from webhook_deliveries where client_id = $1`,
      [ch.clientId],
    );
    assert.deepEqual(rows, [{ n: 2 * events, locked: 500, events }]);
    // a job without its body claims and decrypts the row
    const plain = jobs.find((j) => !j.claimed)!;
    assert.equal((await hooks.deliver(plain)).outcome, "succeeded");
    assert.equal(JSON.parse(rx.got[0].body).type, "message.status");
  } finally {
    // not left due for other tests' sweeps
    await sql("delete from webhook_deliveries where client_id = $1", [ch.clientId]);
    await ch.close();
    await rx.close();
  }
});

Deno.test("a delivery whose stored body does not open is cancelled alone instead of throwing; an unreadable signing secret is a failed attempt", async () => {
  const h = await deliveryHarness([]);
  try {
    await sql(
      "update webhook_deliveries set payload_ciphertext = 'not a ciphertext' where id = $1",
      [
        h.job.deliveryId,
      ],
    );
    assert.deepEqual(await h.hooks.deliver(h.job), { outcome: "cancelled" });
    assert.equal((await h.delivery()).status, "cancelled");
    assert.equal(h.rx.got.length, 0, "nothing sent");
  } finally {
    await h.close();
  }
  const s = await deliveryHarness([]);
  try {
    await sql("update webhook_endpoints set secret_ciphertext = 'not a ciphertext' where id = $1", [
      s.endpointId,
    ]);
    const first = await s.hooks.deliver(s.job);
    assert.equal(first.outcome, "retrying");
    const [row] = await sql<{ last_error: string | null }>(
      "select last_error from webhook_deliveries where id = $1",
      [s.job.deliveryId],
    );
    assert.match(row.last_error ?? "", /signing secret cannot be read/);
    assert.equal(s.rx.got.length, 0, "nothing unsigned is sent");
  } finally {
    await s.close();
  }
});
