import assert from "node:assert/strict";
import { parseCidrList } from "../../src/core/net/ip.ts";
import {
  cloudflareClientAddress,
  trustedProxyClientAddress,
} from "../../src/http/client_address.ts";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";

const BAD_KEY = `glf_test_${"x".repeat(32)}`;

/** Rows of the API request log by request id, once the batches holding them are written. */
async function loggedIps(flush: () => Promise<void>, ids: string[]) {
  await flush();
  for (let waited = 0;; waited += 50) {
    const rows = await sql<{ request_id: string; ip: string | null }>(
      "select request_id, host(ip) as ip from api_request_log where request_id = any($1)",
      [ids],
    );
    if (rows.length === ids.length || waited > 5000) {
      return Object.fromEntries(rows.map((r) => [r.request_id, r.ip]));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("on Deno without trusted proxies a spoofed CF-Connecting-IP or X-Forwarded-For evades no throttle, locks no one out, and is not logged", async () => {
  const { call, deps } = await appUnderTest({ AUTH_FAILURES_PER_MINUTE: "3" });
  const flush = (deps.requestLog as { flush(): Promise<void> }).flush;
  const good = await clientWithKey();
  const attacker = "192.0.2.41";
  const victim = "192.0.2.42";
  const ids: string[] = [];
  // the attacker wears a new address on every try, and the victim's address on some
  for (let i = 0; i < 3; i++) {
    const id = `spoof-${crypto.randomUUID()}`;
    ids.push(id);
    const res = await call("/v1/me", {
      headers: {
        ...bearer(BAD_KEY),
        "x-request-id": id,
        "cf-connecting-ip": i === 0 ? victim : `203.0.113.${i}`,
        "x-forwarded-for": `${victim}, 198.51.100.${i}`,
      },
      ip: attacker,
    });
    assert.equal(res.status, 401);
  }
  const rotated = await call("/v1/me", {
    headers: { ...bearer(good.key), "cf-connecting-ip": "203.0.113.99" },
    ip: attacker,
  });
  assert.equal(rotated.status, 429, "a fresh header does not reset the attacker's count");
  const victimsTurn = await call("/v1/me", { headers: bearer(good.key), ip: victim });
  assert.equal(victimsTurn.status, 200, "the address the attacker wore is not locked out");

  // a header that is no address at all does not cost the request its log row, nor its batch's
  const garbled = `spoof-${crypto.randomUUID()}`;
  const neighbour = `spoof-${crypto.randomUUID()}`;
  ids.push(garbled, neighbour);
  await Promise.all([
    call("/v1/me", {
      headers: { ...bearer(good.key), "x-request-id": garbled, "cf-connecting-ip": "not-an-ip" },
      ip: "192.0.2.43",
    }),
    call("/v1/me", { headers: { ...bearer(good.key), "x-request-id": neighbour }, ip: victim }),
  ]);
  const logged = await loggedIps(flush, ids);
  assert.deepEqual(logged, {
    [ids[0]]: attacker,
    [ids[1]]: attacker,
    [ids[2]]: attacker,
    [garbled]: "192.0.2.43",
    [neighbour]: victim,
  });
});

Deno.test("behind a trusted proxy the forwarded address is the client's: throttled and logged per client, with what the client wrote itself ignored", async () => {
  const { call, deps } = await appUnderTest({
    AUTH_FAILURES_PER_MINUTE: "3",
    TRUSTED_PROXIES: "10.0.0.0/8, 2001:db8:ffff::/48",
  });
  const flush = (deps.requestLog as { flush(): Promise<void> }).flush;
  const good = await clientWithKey();
  const proxy = "10.1.2.3";
  const client = "203.0.113.77";
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = `proxied-${crypto.randomUUID()}`;
    ids.push(id);
    // what the client sent (left) and what two proxies appended (right): the client is the first
    // address from the right that is not a trusted proxy
    const res = await call("/v1/me", {
      headers: {
        ...bearer(BAD_KEY),
        "x-request-id": id,
        "x-forwarded-for": `198.51.100.${i}, ${client}, 10.9.9.9`,
      },
      ip: proxy,
    });
    assert.equal(res.status, 401);
  }
  const again = await call("/v1/me", {
    headers: { ...bearer(good.key), "x-forwarded-for": `198.51.100.200, ${client}` },
    ip: proxy,
  });
  assert.equal(again.status, 429, "the client is throttled, whatever it writes to the left");
  const neighbour = await call("/v1/me", {
    headers: { ...bearer(good.key), "x-forwarded-for": "203.0.113.78" },
    ip: proxy,
  });
  assert.equal(neighbour.status, 200, "another client behind the same proxy is not");

  const direct = `proxied-${crypto.randomUUID()}`;
  ids.push(direct);
  const untrusted = await call("/v1/me", {
    headers: { ...bearer(good.key), "x-request-id": direct, "x-forwarded-for": client },
    ip: "192.0.2.50",
  });
  assert.equal(untrusted.status, 200, "a peer that is no trusted proxy forwards nothing");
  const logged = await loggedIps(flush, ids);
  assert.deepEqual(logged, {
    [ids[0]]: client,
    [ids[1]]: client,
    [ids[2]]: client,
    [direct]: "192.0.2.50",
  });
});

Deno.test("an IPv6 client counts per /64: rotating through its own addresses does not reset the throttle", async () => {
  const { call } = await appUnderTest({ AUTH_FAILURES_PER_MINUTE: "3" });
  const good = await clientWithKey();
  for (const host of ["a", "b", "c"]) {
    const res = await call("/v1/me", { headers: bearer(BAD_KEY), ip: `2001:db8:77:1::${host}` });
    assert.equal(res.status, 401);
  }
  const rotated = await call("/v1/me", { headers: bearer(good.key), ip: "2001:db8:77:1:ffff::1" });
  assert.equal(rotated.status, 429);
  const next = await call("/v1/me", { headers: bearer(good.key), ip: "2001:db8:77:2::a" });
  assert.equal(next.status, 200, "the neighbouring /64 is someone else");
});

Deno.test("trustedProxyClientAddress() walks X-Forwarded-For from the right past trusted hops only", () => {
  const policy = trustedProxyClientAddress(
    parseCidrList("10.0.0.0/8, 2001:db8:ffff::/48").cidrs,
  );
  const ask = (peer: string | undefined, headers: Record<string, string>) =>
    policy(new Headers(headers), peer);
  const xff = (value: string) => ({ "x-forwarded-for": value });
  assert.equal(ask("192.0.2.1", xff("203.0.113.5")), "192.0.2.1", "untrusted peer");
  assert.equal(ask("::ffff:192.0.2.1", {}), "192.0.2.1", "a dual-stack peer's IPv4 spelling");
  assert.equal(ask("10.0.0.1", {}), "10.0.0.1", "a trusted peer forwarding nothing");
  assert.equal(ask("10.0.0.1", xff("203.0.113.5")), "203.0.113.5");
  assert.equal(ask("10.0.0.1", xff(" 6.6.6.6 ,203.0.113.5 , 10.2.2.2")), "203.0.113.5");
  assert.equal(ask("2001:db8:ffff::9", xff("2001:DB8:1::5")), "2001:db8:1::5");
  assert.equal(ask("10.0.0.1", xff("10.3.3.3, 10.2.2.2")), "10.3.3.3", "trusted all the way");
  assert.equal(
    ask("10.0.0.1", xff("203.0.113.5, garbage, 10.2.2.2")),
    "10.2.2.2",
    "a hop that is no address stops the walk at the last trusted one",
  );
  assert.equal(ask("10.0.0.1", xff("203.0.113.5:443")), "10.0.0.1");
  assert.equal(
    ask("10.0.0.1", { "cf-connecting-ip": "203.0.113.6" }),
    "203.0.113.6",
    "Cloudflare in front of a self-hosted app",
  );
  assert.equal(
    ask("192.0.2.1", { "cf-connecting-ip": "203.0.113.6" }),
    "192.0.2.1",
    "CF-Connecting-IP from anyone else is ignored",
  );
  assert.equal(ask(undefined, xff("203.0.113.5")), null);
  assert.equal(
    trustedProxyClientAddress([])(new Headers(xff("203.0.113.5")), "10.0.0.1"),
    "10.0.0.1",
    "no proxies configured: the socket peer, always",
  );
  const many = Array.from({ length: 10_000 }, (_, i) => `10.0.${i >> 8 & 255}.${i & 255}`);
  assert.equal(ask("10.0.0.1", xff(many.join(","))), many.at(-32), "a bounded walk");
});

Deno.test("cloudflareClientAddress() reads the address Cloudflare's edge sets, canonical, or nothing", () => {
  const ask = (value?: string) =>
    cloudflareClientAddress(
      new Headers(value === undefined ? {} : { "cf-connecting-ip": value }),
      "10.0.0.1",
    );
  assert.equal(ask("203.0.113.5"), "203.0.113.5");
  assert.equal(ask("2001:DB8::5"), "2001:db8::5");
  assert.equal(ask(), null);
  assert.equal(ask("not-an-ip"), null);
});
