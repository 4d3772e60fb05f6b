/**
 * Security properties at the HTTP surface: client webhook targets that reach our own network are
 * refused in every spelling (IP literals, and DNS names that resolve to private addresses); the
 * authentication throttle cannot be dodged or turned on someone else with a forwarding header on
 * Deno; every response but a provider webhook's carries the browser security headers.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { keyFor, populatedTenant } from "../_support/api_catalog.ts";
import { apiOperations, requestFor, sampleRequest } from "../_support/api_catalog.ts";
import {
  type Answer,
  assertEnvelope,
  type Edge,
  tenantWithNumber,
  withEdge,
} from "../_support/edge.ts";
import { checkCases, checkProperty, runs } from "../_support/fuzz.ts";
import { sql } from "../_support/stack.ts";

// ---------------------------------------------------------------- SSRF

/** IPv4 ranges a webhook must never reach (src/core/webhooks/ssrf_guard.ts names each). */
const BLOCKED_V4: Array<[number, number]> = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xe0000000, 4],
  [0xf0000000, 4],
];

const blockedV4 = fc.tuple(fc.constantFrom(...BLOCKED_V4), fc.nat()).map(([[base, bits], r]) =>
  (base | (bits === 32 ? 0 : r % 2 ** (32 - bits))) >>> 0
);

const octets = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const hex4 = (n: number) => [(n >>> 16).toString(16), (n & 0xffff).toString(16)];
const fullwidth = (s: string) =>
  s.replace(/[0-9.]/g, (c) => c === "." ? "\uff0e" : String.fromCharCode(0xff10 + Number(c)));

/** Every way a URL can spell an IPv4 address that WHATWG URL parsing turns back into it. */
const SPELLINGS: Record<string, (n: number) => string> = {
  dotted: (n) => octets(n).join("."),
  decimal: (n) => String(n),
  hex: (n) => `0x${n.toString(16)}`,
  HEX: (n) => `0X${n.toString(16).toUpperCase()}`,
  octal: (n) => `0${n.toString(8)}`,
  "dotted hex": (n) => octets(n).map((o) => `0x${o.toString(16)}`).join("."),
  "dotted octal": (n) => octets(n).map((o) => `0${o.toString(8)}`).join("."),
  "three parts": (n) => `${n >>> 24}.${(n >>> 16) & 255}.${n & 0xffff}`,
  "two parts": (n) => `${n >>> 24}.${n & 0xffffff}`,
  "trailing dot": (n) => `${octets(n).join(".")}.`,
  "percent-encoded": (n) =>
    [...octets(n).join(".")].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(""),
  fullwidth: (n) => fullwidth(octets(n).join(".")),
  "IPv4-mapped IPv6": (n) => `[::ffff:${octets(n).join(".")}]`,
  "IPv4-mapped IPv6, hex": (n) => `[::ffff:${hex4(n).join(":")}]`,
  "IPv4-mapped IPv6, long": (n) => `[0:0:0:0:0:ffff:${octets(n).join(".")}]`,
  "IPv4-compatible IPv6": (n) => `[::${octets(n).join(".")}]`,
  "IPv4-translated IPv6": (n) => `[::ffff:0:${octets(n).join(".")}]`,
  "NAT64": (n) => `[64:ff9b::${octets(n).join(".")}]`,
  "6to4": (n) => `[2002:${hex4(n).join(":")}::1]`,
};

const BLOCKED_V6 = [
  "[::1]",
  "[::]",
  "[fe80::1]",
  "[fe80::1%25eth0]",
  "[fc00::1]",
  "[fd00:ec2::254]",
  "[ff02::1]",
  "[100::1]",
  "[2001:db8::1]",
  "[64:ff9b:1::1]",
];

/** Names that public DNS resolves to private, loopback or link-local addresses. */
const PRIVATE_BY_DNS = [
  "127.0.0.1.nip.io",
  "10.0.0.1.nip.io",
  "169.254.169.254.nip.io",
  "192.168.0.1.sslip.io",
  "7f000001.nip.io",
  "localtest.me",
  "fbi.com.127.0.0.1.nip.io",
];

const privateTarget = fc.record({
  host: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(fc.constantFrom(...Object.keys(SPELLINGS)), blockedV4).map(([s, n]) => {
        const host = SPELLINGS[s](n);
        // a spelling is only a test of the guard if URL parsing reads it as the same address
        if (!host.startsWith("[")) {
          assert.equal(new URL(`https://${host}/`).hostname, octets(n).join("."), `${s}: ${host}`);
        }
        return host;
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...BLOCKED_V6) },
  ),
  port: fc.constantFrom("", ":443", ":8443"),
  path: fc.constantFrom("/", "/hook", "/latest/meta-data/", "/?a=b"),
});

Deno.test("in production a client webhook aimed at a private, loopback or link-local address is refused in every spelling, on create and on change", async () => {
  await withEdge({ ENVIRONMENT: "production", AUTH_FAILURES_PER_MINUTE: "10000" }, async (edge) => {
    const tenant = await tenantWithNumber("SSRF tenant");
    const { key } = await keyFor(tenant.clientId, ["webhooks:manage"]);
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    // a public address is accepted, so refusals below are about the address, not the route
    const control = await edge.fetch("/v1/webhook-endpoints", {
      method: "POST",
      headers,
      body: JSON.stringify({ url: "https://93.184.216.34/hook" }),
    });
    assert.equal(control.status, 201, control.text);
    const endpointId = JSON.parse(control.text).endpoint.id;
    const stored = async (url: string) =>
      (await sql<{ n: number }>(
        "select count(*)::int as n from webhook_endpoints where client_id = $1 and url = $2",
        [tenant.clientId, url],
      ))[0].n;
    await checkProperty(
      "security",
      "SSRF by IP literal: every spelling of a private address refused on create and change",
      privateTarget,
      async ({ host, port, path }) => {
        const url = `https://${host}${port}${path}`;
        const create = await edge.fetch("/v1/webhook-endpoints", {
          method: "POST",
          headers,
          body: JSON.stringify({ url }),
        });
        const change = await edge.fetch(`/v1/webhook-endpoints/${endpointId}`, {
          method: "PATCH",
          headers,
          body: JSON.stringify({ url }),
        });
        for (const res of [create, change]) {
          assert.equal(
            res.status,
            400,
            `${url}: ${res.status} ${res.text}`,
          );
          assertEnvelope(res, url);
          assert.equal(JSON.parse(res.text).error.code, "invalid_webhook_url");
        }
        assert.equal(await stored(url), 0, `${url} was stored`);
        return 2;
      },
      { runs: runs(6), properties: 2 },
    );
  });
});

Deno.test("in production a client webhook aimed at a DNS name that resolves to a private address is refused", async () => {
  await withEdge({ ENVIRONMENT: "production" }, async (edge) => {
    const tenant = await tenantWithNumber("SSRF DNS tenant");
    const { key } = await keyFor(tenant.clientId, ["webhooks:manage"]);
    await checkCases(
      "security",
      "SSRF by DNS name: names resolving to private addresses refused",
      async (tally) => {
        const accepted: string[] = [];
        for (const name of PRIVATE_BY_DNS) {
          const res = await edge.fetch("/v1/webhook-endpoints", {
            method: "POST",
            headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
            body: JSON.stringify({ url: `https://${name}/hook` }),
          });
          tally.inputs++;
          if (res.status !== 400) accepted.push(`${name}: ${res.status}`);
          else assert.equal(JSON.parse(res.text).error.code, "invalid_webhook_url");
        }
        assert.deepEqual(accepted, [], "names that resolve to private addresses were registered");
      },
    );
  });
});

// ---------------------------------------------------------------- throttle spoofing

/** Headers a client may set to pose as another address. */
const FORWARDING_HEADERS = [
  "cf-connecting-ip",
  "x-forwarded-for",
  "x-real-ip",
  "true-client-ip",
  "forwarded",
] as const;

const address = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) =>
  o.join(".")
);

let caller = 0;

/**
 * The app as the Deno entry runs it (the socket's address handed in as remoteAddr), a key that
 * works, and limit + 1 failed attempts from one socket with a forwarding header naming whatever
 * the caller says. Every run is a new caller (sockets and named addresses of its own).
 */
async function throttleHarness(edge: Edge) {
  const limit = Number(edge.deps.env.AUTH_FAILURES_PER_MINUTE);
  const tenant = await tenantWithNumber("Throttle tenant");
  const { key } = await keyFor(tenant.clientId, ["messages:read"]);
  const call = (socket: string, headers: Record<string, string>, id: string) =>
    edge.app.fetch(
      new Request("http://edge.test/v1/me", { headers: { ...headers, "x-request-id": id } }),
      { remoteAddr: socket, waitUntil: () => {} },
    );
  const fresh = () => {
    caller++;
    const [hi, lo] = [Math.floor(caller / 250), caller % 250];
    return {
      attacker: `198.51.${hi}.${lo}`,
      victim: `203.0.${hi}.${lo}`,
      /** a generated address made this run's own, so runs share no throttle state */
      own: (generated: string) => generated.replace(/^\d+/, String(100 + (caller % 100))),
      run: crypto.randomUUID().slice(0, 8),
    };
  };
  const fail = async (
    socket: string,
    header: string,
    named: (i: number) => string,
    run: string,
  ) => {
    const statuses: number[] = [];
    for (let i = 0; i <= limit; i++) {
      const value = named(i);
      const res = await call(socket, {
        authorization: "Bearer glf_test_" + "A".repeat(32),
        [header]: header === "forwarded" ? `for=${value}` : value,
      }, `spoof-${run}-${i}`);
      await res.body?.cancel();
      statuses.push(res.status);
    }
    return statuses;
  };
  /** the addresses a forwarding header names, one per attempt */
  const spoofed = fc.array(address, { minLength: limit + 1, maxLength: limit + 1 });
  return { edge, limit, key, call, fresh, fail, spoofed };
}

Deno.test("on Deno a forwarding header rotated on every attempt does not dodge the authentication throttle", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "5" }, async (edge) => {
    const h = await throttleHarness(edge);
    await checkProperty(
      "security",
      "throttle spoofing: a rotated forwarding header does not dodge the throttle",
      h.spoofed,
      async (spoofed) => {
        for (const header of FORWARDING_HEADERS) {
          const { attacker, own, run } = h.fresh();
          const statuses = await h.fail(attacker, header, (i) => own(spoofed[i]), run);
          assert.equal(statuses.at(-1), 429, `${header} rotated: ${statuses.join(",")}`);
        }
        return FORWARDING_HEADERS.length * (h.limit + 1);
      },
    );
  });
});

Deno.test("on Deno a forwarding header naming another address does not lock that address out", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "5" }, async (edge) => {
    const h = await throttleHarness(edge);
    await checkProperty(
      "security",
      "throttle spoofing: naming another address does not lock it out",
      h.spoofed,
      async () => {
        for (const header of FORWARDING_HEADERS) {
          const { attacker, victim, run } = h.fresh();
          await h.fail(attacker, header, () => victim, run);
          const res = await h.call(victim, { authorization: `Bearer ${h.key}` }, `victim-${run}`);
          await res.body?.cancel();
          assert.equal(res.status, 200, `${header} locked out the address it named: ${res.status}`);
        }
        return FORWARDING_HEADERS.length * (h.limit + 2);
      },
    );
  });
});

Deno.test("on Deno the request log records the socket's address, not a forwarding header's", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "5" }, async (edge) => {
    const h = await throttleHarness(edge);
    await checkProperty(
      "security",
      "throttle spoofing: the request log records the socket's address, not the header",
      h.spoofed,
      async (spoofed) => {
        for (const header of FORWARDING_HEADERS) {
          const { attacker, own, run } = h.fresh();
          await h.fail(attacker, header, (i) => own(spoofed[i]), run);
          await h.edge.deps.requestLog.flush();
          const logged = await sql<{ ip: string }>(
            "select distinct host(ip) as ip from api_request_log where request_id like $1",
            [`spoof-${run}-%`],
          );
          assert.deepEqual(logged.map((r) => r.ip), [attacker], `${header} was logged`);
        }
        return FORWARDING_HEADERS.length * (h.limit + 1);
      },
    );
  });
});

// ---------------------------------------------------------------- security headers

const BROWSER_HEADERS = [
  "strict-transport-security",
  "x-content-type-options",
  "x-frame-options",
  "referrer-policy",
  "cross-origin-resource-policy",
];

Deno.test("every response but a provider webhook's carries the browser security headers, and every page a Content-Security-Policy", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "3", MAX_BODY_BYTES: "2048" }, async (edge) => {
    const tenant = await populatedTenant("Headers tenant", edge);
    const ops = await apiOperations(edge.fetch);
    await checkCases(
      "security",
      "security headers on every non-webhook response",
      async (tally) => {
        const answers: Array<[string, Answer]> = [];
        const auth = { authorization: `Bearer ${tenant.key}` };
        for (const op of ops) {
          const sample = sampleRequest(op.key, tenant)!;
          answers.push([op.key, await edge.fetch(...requestFor(op, sample, auth))]);
        }
        const more: Array<[string, string, RequestInit?]> = [
          ["health", "/healthz"],
          ["OpenAPI document", "/openapi.json"],
          ["API reference page", "/docs"],
          ["unknown route", "/nothing-here"],
          ["unknown method", "/v1/me", { method: "PATCH", headers: auth }],
          ["server error", `/v1/contacts/${"-".repeat(36)}`, { headers: auth }],
          ["too large", "/v1/api-keys", {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ name: "x".repeat(4096) }),
          }],
          ["not JSON", "/v1/api-keys", {
            method: "POST",
            headers: { ...auth, "content-type": "text/plain" },
            body: "x",
          }],
        ];
        for (const [label, path, init] of more) answers.push([label, await edge.fetch(path, init)]);
        // last, as the throttle then refuses everything from this address: 401s, then 429s
        for (const op of ops) {
          const sample = sampleRequest(op.key, tenant)!;
          answers.push([
            `${op.key} without a key`,
            await edge.fetch(...requestFor(op, sample, {})),
          ]);
        }
        tally.inputs = answers.length;
        assert.ok(answers.some(([, r]) => r.status === 429), "the throttle answered");
        const missing: string[] = [];
        for (const [label, res] of answers) {
          for (const h of BROWSER_HEADERS) {
            if (!res.headers.get(h)) missing.push(`${label} (${res.status}): ${h}`);
          }
          const nosniff = res.headers.get("x-content-type-options");
          if (nosniff && nosniff !== "nosniff") {
            missing.push(`${label}: x-content-type-options ${nosniff}`);
          }
          if ((res.headers.get("content-type") ?? "").startsWith("text/html")) {
            if (!res.headers.get("content-security-policy")) {
              missing.push(`${label} (${res.status}): content-security-policy on an HTML page`);
            }
          }
        }
        assert.deepEqual(missing, []);
      },
    );
  });
});
