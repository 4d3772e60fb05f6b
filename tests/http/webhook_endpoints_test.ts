import assert from "node:assert/strict";
import { pinnedWebhookEgress } from "../../src/adapters/deno/pinned_webhook_egress.ts";
import { verifyStandardWebhook } from "../../src/core/webhooks/standard_webhooks.ts";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { eventually } from "../_support/channel.ts";
import { MAX_WEBHOOK_ENDPOINTS } from "../../src/services/client_webhooks.ts";
import { startTestDns, type TestDns } from "../_support/dns_server.ts";
import { clientWithToken, countRows, signJwt, sql } from "../_support/stack.ts";

const send = (key: string, method: string, body?: unknown) => ({
  method,
  headers: { ...bearer(key), "content-type": "application/json" },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

Deno.test("a client creates, lists, reads, changes, rotates and deletes an endpoint, and sees its secret only when it is made", async () => {
  const { call } = await appUnderTest();
  const { key, clientId } = await clientWithKey();
  const created = await call(
    "/v1/webhook-endpoints",
    send(key, "POST", {
      url: "https://hooks.example.com/wa",
      description: "orders",
      event_types: ["message.status", "message.status"],
    }),
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { endpoint, secret } = created.body;
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(endpoint.event_types, ["message.status"]);
  assert.equal(endpoint.enabled, true);
  assert.equal(endpoint.consecutive_failures, 0);

  const listed = await call("/v1/webhook-endpoints", { headers: bearer(key) });
  assert.deepEqual(listed.body.data.map((e: { id: string }) => e.id), [endpoint.id]);
  const one = await call(`/v1/webhook-endpoints/${endpoint.id}`, { headers: bearer(key) });
  assert.equal(one.body.endpoint.url, "https://hooks.example.com/wa");
  for (const body of [listed.body, one.body]) {
    assert.ok(!JSON.stringify(body).includes(secret.slice(6)), "the secret is never shown again");
    assert.ok(!JSON.stringify(body).includes("secret"), "not even its ciphertext");
  }

  const patched = await call(
    `/v1/webhook-endpoints/${endpoint.id}`,
    send(key, "PATCH", { event_types: [], description: null, url: "https://hooks.example.com/v2" }),
  );
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(patched.body.endpoint.event_types, []);
  assert.equal(patched.body.endpoint.description, null);
  assert.equal(patched.body.endpoint.url, "https://hooks.example.com/v2");
  const unchanged = await call(`/v1/webhook-endpoints/${endpoint.id}`, send(key, "PATCH", {}));
  assert.deepEqual(unchanged.body.endpoint, patched.body.endpoint);
  const disabled = await call(
    `/v1/webhook-endpoints/${endpoint.id}`,
    send(key, "PATCH", { enabled: false }),
  );
  assert.equal(disabled.body.endpoint.enabled, false);
  assert.equal(disabled.body.endpoint.disabled_reason, "Disabled by the client");

  const rotated = await call(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
    method: "POST",
    headers: bearer(key),
  });
  assert.equal(rotated.status, 200);
  assert.match(rotated.body.secret, /^whsec_/);
  assert.notEqual(rotated.body.secret, secret);

  const deliveries = await call(`/v1/webhook-endpoints/${endpoint.id}/deliveries`, {
    headers: bearer(key),
  });
  assert.deepEqual(deliveries.body, { data: [] });
  const deleted = await call(`/v1/webhook-endpoints/${endpoint.id}`, send(key, "DELETE"));
  assert.deepEqual([deleted.status, deleted.body], [200, { deleted: true }]);
  assert.equal(
    (await call(`/v1/webhook-endpoints/${endpoint.id}`, { headers: bearer(key) })).status,
    404,
  );
  assert.equal(
    (await call(`/v1/webhook-endpoints/${endpoint.id}`, send(key, "DELETE"))).status,
    404,
  );

  const audit = await sql<{ action: string }>(
    "select action from audit_log where client_id = $1 and target_id = $2 order by id",
    [clientId, endpoint.id],
  );
  assert.deepEqual(audit.map((a) => a.action), [
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.updated",
    "webhook_endpoint.updated",
    "webhook_endpoint.secret_rotated",
    "webhook_endpoint.deleted",
  ]);
});

Deno.test("POST /v1/webhook-endpoints/{id}/test delivers a webhook.test event signed with the current secret, before and after a rotation, and its deliveries show no payload", async () => {
  const got: Array<{ headers: Headers; body: string }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ headers: req.headers, body: await req.text() });
    return new Response(null, { status: 204 });
  });
  try {
    const { call } = await appUnderTest();
    const { key } = await clientWithKey();
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`;
    const created = await call(
      "/v1/webhook-endpoints",
      send(key, "POST", { url, event_types: ["message.received"] }),
    );
    const id = created.body.endpoint.id;
    const first = created.body.secret as string;
    const verify = (secret: string, n: number) =>
      verifyStandardWebhook({ secret, headers: got[n].headers, body: got[n].body });
    assert.equal((await call(`/v1/webhook-endpoints/${id}/test`, send(key, "POST"))).status, 202);
    await eventually(() => Promise.resolve(got.length > 0), "the first test event");
    assert.deepEqual(await verify(first, 0), { valid: true }, "signed with the first secret");

    const { secret } = (await call(`/v1/webhook-endpoints/${id}/rotate-secret`, send(key, "POST")))
      .body;
    const queued = await call(`/v1/webhook-endpoints/${id}/test`, send(key, "POST"));
    assert.equal(queued.status, 202, JSON.stringify(queued.body));
    await eventually(() => Promise.resolve(got.length > 1), "the test event");
    got.shift();
    assert.deepEqual(await verify(secret, 0), { valid: true }, "signed with the rotated secret");
    assert.deepEqual(await verify(first, 0), { valid: false, reason: "mismatch" }, "not the old");
    const event = JSON.parse(got[0].body);
    assert.equal(event.type, "webhook.test");
    assert.deepEqual(event.data, { endpoint_id: id });

    const delivery = await eventually(async () => {
      const res = await call(`/v1/webhook-endpoints/${id}/deliveries`, { headers: bearer(key) });
      const [d] = res.body.data;
      return d?.status === "succeeded" ? d : null;
    }, "the delivery to succeed");
    assert.equal(delivery.id, queued.body.delivery_id);
    assert.equal(delivery.event_id, got[0].headers.get("webhook-id"));
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.last_status_code, 204);
    assert.ok(!("payload_ciphertext" in delivery) && !("payload" in delivery));

    await call(`/v1/webhook-endpoints/${id}`, send(key, "PATCH", { enabled: false }));
    const refused = await call(`/v1/webhook-endpoints/${id}/test`, send(key, "POST"));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "webhook_endpoint_disabled");
  } finally {
    await server.shutdown();
  }
});

Deno.test("POST /v1/webhook-endpoints/{id}/recover sends again, once each, the deliveries that failed or were cancelled since a time, and refuses a disabled endpoint", async () => {
  let answer = 500;
  const got: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    got.push(req.headers.get("webhook-id")!);
    return new Response(null, { status: answer });
  });
  try {
    const { call } = await appUnderTest();
    const { key } = await clientWithKey();
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`;
    const id = (await call("/v1/webhook-endpoints", send(key, "POST", { url }))).body.endpoint.id;
    // four real deliveries whose first attempt fails (the endpoint is down)
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(
        (await call(`/v1/webhook-endpoints/${id}/test`, send(key, "POST"))).body.delivery_id,
      );
    }
    await eventually(async () => {
      const [row] = await sql<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries where id = any($1) and attempts = 1",
        [ids],
      );
      return row.n === 4;
    }, "the first attempts");
    // as their retries would have left them: two failed for good (one of them before `since`),
    // one cancelled (its endpoint was disabled meanwhile), one delivered
    const [failed, cancelled, old, delivered] = ids;
    await sql("update webhook_deliveries set status = 'failed', attempts = 8 where id = $1", [
      failed,
    ]);
    await sql("update webhook_deliveries set status = 'cancelled' where id = $1", [cancelled]);
    await sql(
      "update webhook_deliveries set status = 'failed', created_at = now() - interval '2 days' where id = $1",
      [old],
    );
    await sql(
      "update webhook_deliveries set status = 'succeeded', payload_ciphertext = null where id = $1",
      [delivered],
    );
    const events = new Map(
      (await sql<{ id: string; event_id: string }>(
        "select id, event_id from webhook_deliveries where id = any($1)",
        [ids],
      )).map((r) => [r.id, r.event_id]),
    );
    answer = 204;
    got.length = 0;

    const since = new Date(Date.now() - 86_400_000).toISOString();
    const recovered = await call(
      `/v1/webhook-endpoints/${id}/recover`,
      send(key, "POST", { since }),
    );
    assert.equal(recovered.status, 202, JSON.stringify(recovered.body));
    assert.deepEqual(recovered.body, { recovered: 2, delivery_ids: [failed, cancelled] });
    const state = () =>
      sql<{ id: string; status: string; attempts: number }>(
        "select id, status, attempts from webhook_deliveries where id = any($1) order by created_at",
        [ids],
      );
    await eventually(async () => {
      const rows = await state();
      return rows.filter((r) => r.status === "succeeded").length === 3;
    }, "the recovered deliveries to succeed");
    assert.deepEqual(
      (await state()).map((r) => [r.id, r.status, r.attempts]),
      [
        [old, "failed", 1],
        [failed, "succeeded", 9],
        [cancelled, "succeeded", 2],
        [delivered, "succeeded", 1],
      ],
    );
    assert.deepEqual([...got].sort(), [events.get(failed), events.get(cancelled)].sort());

    const again = await call(`/v1/webhook-endpoints/${id}/recover`, send(key, "POST", { since }));
    assert.deepEqual(again.body, { recovered: 0, delivery_ids: [] }, "nothing left to recover");
    const [audited] = await sql<{ n: number }>(
      "select count(*)::int as n from audit_log where action = 'webhook_endpoint.recovered' and target_id = $1",
      [id],
    );
    assert.equal(audited.n, 2);

    assert.equal(
      (await call(`/v1/webhook-endpoints/${id}/recover`, send(key, "POST", { since: "yesterday" })))
        .status,
      400,
    );
    await call(`/v1/webhook-endpoints/${id}`, send(key, "PATCH", { enabled: false }));
    const refused = await call(`/v1/webhook-endpoints/${id}/recover`, send(key, "POST", { since }));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "webhook_endpoint_disabled");
    assert.equal(got.length, 2);
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook endpoints need the webhooks:manage scope", async () => {
  const { call } = await appUnderTest();
  const limited = await clientWithKey({ scopes: ["messages:read"] });
  const list = await call("/v1/webhook-endpoints", { headers: bearer(limited.key) });
  assert.equal(list.status, 403);
  assert.equal(list.body.error.code, "forbidden");
  const create = await call(
    "/v1/webhook-endpoints",
    send(limited.key, "POST", { url: "https://hooks.example.com/a" }),
  );
  assert.equal(create.status, 403);
});

Deno.test("another client's endpoint is 404 for every operation and stays untouched", async () => {
  const { call } = await appUnderTest();
  const owner = await clientWithKey();
  const other = await clientWithKey();
  const created = await call(
    "/v1/webhook-endpoints",
    send(owner.key, "POST", { url: "https://hooks.example.com/a" }),
  );
  const id = created.body.endpoint.id;
  const attempts: Array<[string, RequestInit]> = [
    [`/v1/webhook-endpoints/${id}`, { headers: bearer(other.key) }],
    [`/v1/webhook-endpoints/${id}`, send(other.key, "PATCH", { url: "https://evil.example.com" })],
    [`/v1/webhook-endpoints/${id}`, send(other.key, "PATCH", {})],
    [`/v1/webhook-endpoints/${id}`, send(other.key, "DELETE")],
    [`/v1/webhook-endpoints/${id}/rotate-secret`, send(other.key, "POST")],
    [`/v1/webhook-endpoints/${id}/deliveries`, { headers: bearer(other.key) }],
    [`/v1/webhook-endpoints/${id}/test`, send(other.key, "POST")],
    [
      `/v1/webhook-endpoints/${id}/recover`,
      send(other.key, "POST", { since: "2026-01-01T00:00:00Z" }),
    ],
  ];
  for (const [path, init] of attempts) {
    const res = await call(path, init);
    assert.equal(res.status, 404, `${init.method ?? "GET"} ${path}`);
    assert.equal(res.body.error.code, "not_found");
  }
  assert.deepEqual(
    (await call("/v1/webhook-endpoints", { headers: bearer(other.key) })).body.data,
    [],
  );
  const mine = await call(`/v1/webhook-endpoints/${id}`, { headers: bearer(owner.key) });
  assert.equal(mine.body.endpoint.url, "https://hooks.example.com/a");
});

Deno.test("an unknown event type is refused with 400 invalid_request", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey();
  const res = await call(
    "/v1/webhook-endpoints",
    send(key, "POST", { url: "https://hooks.example.com/a", event_types: ["order.paid"] }),
  );
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_request");
});

/** The app in production, composed as on Deno, resolving names through a test DNS server. */
async function productionApp(dns: TestDns) {
  return await appUnderTest({ ENVIRONMENT: "production" }, {
    webhookEgress: pinnedWebhookEgress({ nameServer: dns.nameServer }),
  });
}

Deno.test("in production a private, loopback, plain-http or odd-port target is refused with 400 invalid_webhook_url, on create and on change", async () => {
  const dns = await startTestDns();
  dns.set("hooks.example.com", { A: ["203.0.113.10"] });
  const { call } = await productionApp(dns);
  const { key } = await clientWithKey();
  for (
    const url of [
      "http://hooks.example.com/x",
      "https://hooks.example.com:8080/x",
      "https://user:pw@hooks.example.com/x",
      "https://127.0.0.1/x",
      "https://2130706433/x",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/x",
      "https://[::ffff:10.0.0.1]/x",
      "https://metadata.google.internal/x",
    ]
  ) {
    const res = await call("/v1/webhook-endpoints", send(key, "POST", { url }));
    assert.equal(res.status, 400, url);
    assert.equal(res.body.error.code, "invalid_webhook_url");
    assert.match(res.body.error.message, /^The webhook URL (must|is) /);
  }
  const created = await call(
    "/v1/webhook-endpoints",
    send(key, "POST", { url: "https://hooks.example.com/ok" }),
  );
  assert.equal(created.status, 201);
  const changed = await call(
    `/v1/webhook-endpoints/${created.body.endpoint.id}`,
    send(key, "PATCH", { url: "https://10.0.0.1/x" }),
  );
  assert.equal(changed.status, 400);
  assert.equal(changed.body.error.code, "invalid_webhook_url");
  await dns.close();
});

Deno.test("in production a host name that resolves to a private address is refused with 400 invalid_webhook_url, on create and on change", async () => {
  const dns = await startTestDns();
  try {
    const { call } = await productionApp(dns);
    const { key } = await clientWithKey();
    dns.set("hooks.example.com", { A: ["203.0.113.10"], AAAA: ["2001:4860:4860::8888"] });
    dns.set("127.0.0.1.nip.io", { A: ["127.0.0.1"] });
    dns.set("metadata.example.com", { A: ["169.254.169.254"] });
    dns.set("db.example.com", { A: ["203.0.113.10", "10.20.0.5"] });
    dns.set("v6.example.com", { AAAA: ["::1"] });
    for (
      const host of ["127.0.0.1.nip.io", "metadata.example.com", "db.example.com", "v6.example.com"]
    ) {
      const res = await call(
        "/v1/webhook-endpoints",
        send(key, "POST", { url: `https://${host}/x` }),
      );
      assert.equal(res.status, 400, host);
      assert.equal(res.body.error.code, "invalid_webhook_url");
      assert.equal(
        res.body.error.message,
        "The webhook URL must not resolve to a private or reserved address",
      );
      assert.ok(!res.body.error.message.includes("10.20"), "internal addresses are not told");
    }
    const nowhere = await call(
      "/v1/webhook-endpoints",
      send(key, "POST", { url: "https://nowhere.example.com/x" }),
    );
    assert.equal(nowhere.status, 400);
    assert.equal(
      nowhere.body.error.message,
      "The webhook URL must name a host that resolves to an address",
    );

    const created = await call(
      "/v1/webhook-endpoints",
      send(key, "POST", { url: "https://hooks.example.com/ok" }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const changed = await call(
      `/v1/webhook-endpoints/${created.body.endpoint.id}`,
      send(key, "PATCH", { url: "https://127.0.0.1.nip.io/x" }),
    );
    assert.equal(changed.status, 400);
    assert.equal(changed.body.error.code, "invalid_webhook_url");
    const kept = await call(`/v1/webhook-endpoints/${created.body.endpoint.id}`, {
      headers: bearer(key),
    });
    assert.equal(kept.body.endpoint.url, "https://hooks.example.com/ok");
  } finally {
    await dns.close();
  }
});

Deno.test("a client has at most 10 webhook endpoints, through the API and straight through PostgREST", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  const create = (n: number) =>
    call("/v1/webhook-endpoints", {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: JSON.stringify({ url: `https://example.com/hook/${n}` }),
    });
  for (let n = 0; n < MAX_WEBHOOK_ENDPOINTS; n++) assert.equal((await create(n)).status, 201);
  const over = await create(MAX_WEBHOOK_ENDPOINTS);
  assert.equal(over.status, 409);
  assert.equal(over.body.error.code, "webhook_endpoint_limit");
  assert.ok(over.body.error.request_id);
  // the client's own token at PostgREST meets the same rule
  const direct = await clientWithToken(await signJwt({ client_id: clientId }))
    .from("webhook_endpoints")
    .insert({ client_id: clientId, url: "https://example.com/x", secret_ciphertext: "ct" });
  assert.equal(direct.error?.code, "GL409");
  assert.equal(await countRows("webhook_endpoints", clientId), MAX_WEBHOOK_ENDPOINTS);
  // another client is not held by this one's endpoints
  const other = await clientWithKey();
  const theirs = await call("/v1/webhook-endpoints", {
    method: "POST",
    headers: { ...bearer(other.key), "content-type": "application/json" },
    body: JSON.stringify({ url: "https://example.com/theirs" }),
  });
  assert.equal(theirs.status, 201);
});
