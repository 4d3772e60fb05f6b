import assert from "node:assert/strict";
import dgram from "node:dgram";
import { pinnedWebhookEgress } from "../../../src/adapters/deno/pinned_webhook_egress.ts";
import { RefusedTarget, RESOLUTION_REFUSALS } from "../../../src/core/webhooks/ssrf_guard.ts";
import { startTestDns } from "../../_support/dns_server.ts";
import { testCertificates } from "../../_support/tls.ts";

const NAME = "hooks.pinned.example";

/**
 * Two HTTPS receivers on one port, at 127.0.0.2 (the address a test lets the egress reach) and at
 * 127.0.0.1 (the one it must never reach), both with a certificate for NAME signed by a test CA.
 */
async function receivers() {
  const tls = await testCertificates([NAME]);
  const got: Record<string, Array<{ host: string | null; path: string; body: string }>> = {
    "127.0.0.2": [],
    "127.0.0.1": [],
  };
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  const serve = (hostname: string, port: number) =>
    Deno.serve(
      { hostname, port, cert: tls.cert, key: tls.key, onListen: () => {} },
      async (req) => {
        const url = new URL(req.url);
        got[hostname].push({
          host: req.headers.get("host"),
          path: url.pathname,
          body: await req.text(),
        });
        if (url.pathname === "/hang") await released;
        if (url.pathname === "/redirect") {
          return Response.redirect(`https://127.0.0.1:${url.port}/hook`, 307);
        }
        return new Response("ok");
      },
    );
  for (let tries = 0;; tries++) {
    const good = serve("127.0.0.2", 0);
    const port = good.addr.port;
    try {
      const evil = serve("127.0.0.1", port);
      return {
        ca: tls.ca,
        port,
        got,
        async close() {
          release();
          await Promise.all([good.shutdown(), evil.shutdown()]);
        },
      };
    } catch (error) {
      await good.shutdown();
      if (tries > 20) throw error;
    }
  }
}

const post = (
  egress: ReturnType<typeof pinnedWebhookEgress>,
  url: string,
  signal = AbortSignal.timeout(5000),
) =>
  egress.post(new URL(url), { headers: { "content-type": "text/plain" }, body: "hello", signal });

Deno.test("pinnedWebhookEgress() connects to the address its check resolved, so a name rebound after the check is not followed, and at the next attempt is refused", async () => {
  const dns = await startTestDns();
  const rx = await receivers();
  try {
    // the first lookup answers an address the egress may reach, every later one loopback
    dns.set(NAME, { A: ["127.0.0.2"] }, { A: ["127.0.0.1"] });
    const egress = pinnedWebhookEgress({
      nameServer: dns.nameServer,
      caCerts: [rx.ca],
      isBlocked: (address) => address !== "127.0.0.2",
    });
    assert.equal(await post(egress, `https://${NAME}:${rx.port}/hook`), 200);
    assert.deepEqual(rx.got["127.0.0.2"], [
      { host: `${NAME}:${rx.port}`, path: "/hook", body: "hello" },
    ]);
    assert.equal(rx.got["127.0.0.1"].length, 0, "no second lookup chose where to connect");
    assert.equal(dns.queries(NAME), 2, "one A and one AAAA lookup for the attempt");

    await assert.rejects(
      post(egress, `https://${NAME}:${rx.port}/hook`),
      (error) => error instanceof RefusedTarget && error.reason === RESOLUTION_REFUSALS.blocked,
    );
    assert.equal(rx.got["127.0.0.1"].length, 0);
    assert.equal(dns.queries(NAME), 4, "the next attempt resolved the name again");
  } finally {
    await rx.close();
    await dns.close();
  }
});

Deno.test("pinnedWebhookEgress() validates the certificate against the host name, not the address it connects to, and follows no redirect", async () => {
  const dns = await startTestDns();
  const rx = await receivers();
  try {
    dns.set(NAME, { A: ["127.0.0.2"] });
    dns.set("other.pinned.example", { A: ["127.0.0.2"] });
    const reach = (address: string) => address !== "127.0.0.2";
    const trusting = pinnedWebhookEgress({
      nameServer: dns.nameServer,
      caCerts: [rx.ca],
      isBlocked: reach,
    });
    // the certificate names NAME: another name at the same address is someone else
    await assert.rejects(
      post(trusting, `https://other.pinned.example:${rx.port}/hook`),
      (error) => !(error instanceof RefusedTarget) && /altnames|certificate/i.test(String(error)),
    );
    // without the test CA the certificate is an unknown issuer's, even for the right name
    const defaults = pinnedWebhookEgress({ nameServer: dns.nameServer, isBlocked: reach });
    await assert.rejects(post(defaults, `https://${NAME}:${rx.port}/hook`), /certificate/i);
    assert.equal(rx.got["127.0.0.2"].length, 0, "no request was sent over either connection");
    assert.equal(await post(trusting, `https://${NAME}:${rx.port}/hook`), 200);
    assert.equal(await post(trusting, `https://${NAME}:${rx.port}/redirect`), 307);
    assert.equal(rx.got["127.0.0.1"].length, 0, "a redirect is an answer, never followed");
  } finally {
    await rx.close();
    await dns.close();
  }
});

Deno.test("pinnedWebhookEgress() refuses a name when any of its addresses is private or reserved, and says when it has none", async () => {
  const dns = await startTestDns();
  try {
    const egress = pinnedWebhookEgress({ nameServer: dns.nameServer });
    const refused: Array<[string, Parameters<typeof dns.set>[1]]> = [
      ["127.0.0.1.nip.io", { A: ["127.0.0.1"] }],
      ["metadata.example", { A: ["169.254.169.254"] }],
      ["mixed.example", { A: ["203.0.113.5", "10.0.0.1"] }],
      ["v6.example", { A: ["203.0.113.5"], AAAA: ["2001:db8:1::1", "fd00::1"] }],
      ["mapped.example", { AAAA: ["::ffff:127.0.0.1"] }],
      ["svc.cluster.example", { A: ["10.96.0.1"] }],
    ];
    for (const [name, records] of refused) {
      dns.set(name, records);
      const url = new URL(`https://${name}/hook`);
      assert.equal(
        await egress.vet(url, AbortSignal.timeout(5000)),
        RESOLUTION_REFUSALS.blocked,
        name,
      );
      await assert.rejects(
        post(egress, url.href),
        (error) => error instanceof RefusedTarget && error.reason === RESOLUTION_REFUSALS.blocked,
        name,
      );
    }
    dns.set("public.example", { A: ["203.0.113.5"], AAAA: ["2606:4700::1111"] });
    assert.equal(
      await egress.vet(new URL("https://public.example/x"), AbortSignal.timeout(5000)),
      null,
    );
    assert.equal(
      await egress.vet(new URL("https://nowhere.example/x"), AbortSignal.timeout(5000)),
      RESOLUTION_REFUSALS.noAddress,
    );
    assert.equal(
      await egress.vet(new URL("https://[::1]/x"), AbortSignal.timeout(5000)),
      RESOLUTION_REFUSALS.blocked,
      "an address literal is checked as it stands",
    );
  } finally {
    await dns.close();
  }
});

Deno.test("pinnedWebhookEgress() keeps to the attempt's deadline when the name server or the receiver never answers", async () => {
  const silent = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
  const dns = await startTestDns();
  const rx = await receivers();
  try {
    const mute = pinnedWebhookEgress({
      nameServer: { ipAddr: "127.0.0.1", port: (silent.address() as { port: number }).port },
    });
    let started = performance.now();
    await assert.rejects(
      post(mute, "https://hooks.example/x", AbortSignal.timeout(300)),
      (error) => (error as Error).name === "TimeoutError",
    );
    assert.ok(performance.now() - started < 3000, "the lookup was cut off at the deadline");

    dns.set(NAME, { A: ["127.0.0.2"] });
    const egress = pinnedWebhookEgress({
      nameServer: dns.nameServer,
      caCerts: [rx.ca],
      isBlocked: (address) => address !== "127.0.0.2",
    });
    started = performance.now();
    await assert.rejects(
      post(egress, `https://${NAME}:${rx.port}/hang`, AbortSignal.timeout(300)),
      (error) => (error as Error).name === "TimeoutError",
    );
    assert.ok(performance.now() - started < 3000, "the request was cut off at the deadline");
  } finally {
    await rx.close();
    await dns.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
