import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkWebhookUrl,
  isBlockedAddress,
  isBlockedIpv4,
} from "../../../src/core/webhooks/ssrf_guard.ts";

const prod = { allowPrivate: false };
const dev = { allowPrivate: true };

Deno.test("checkWebhookUrl() accepts public https endpoints on 443 and 8443", () => {
  for (
    const url of [
      "https://hooks.example.com/whatsapp",
      "https://hooks.example.com:443/whatsapp",
      "https://93.184.216.34:8443/x",
      "https://[2606:4700::1111]/x",
      "https://[::ffff:93.184.216.34]/x",
      "https://[64:ff9b::8.8.8.8]/x",
    ]
  ) {
    assert.equal(checkWebhookUrl(url, prod).ok, true, url);
  }
});

Deno.test("checkWebhookUrl() refuses private, loopback, link-local and reserved targets in every spelling in production", () => {
  const refused = [
    "https://localhost/x",
    "https://LOCALHOST./x",
    "https://api.localhost/x",
    "https://printer.local/x",
    "https://metadata.google.internal/x",
    "https://nas.home.arpa/x",
    "https://intranet/x",
    "https://127.0.0.1/x",
    "https://127.1/x",
    "https://2130706433/x", // 127.0.0.1 as one decimal number
    "https://0x7f000001/x", // ... as one hex number
    "https://0x7f.0.0.1/x",
    "https://0177.0.0.1/x", // octal
    "https://017700000001/x",
    "https://0.0.0.0/x",
    "https://0/x",
    "https://10.1.2.3/x",
    "https://100.64.0.1/x",
    "https://100.127.255.255/x",
    "https://169.254.169.254/latest/meta-data",
    "https://172.16.0.1/x",
    "https://172.31.255.255/x",
    "https://192.0.0.8/x",
    "https://192.168.1.1/x",
    "https://198.18.0.1/x",
    "https://198.19.255.255/x",
    "https://224.0.0.1/x",
    "https://239.255.255.250/x",
    "https://240.0.0.1/x",
    "https://255.255.255.255/x",
    "https://[::1]/x",
    "https://[0:0:0:0:0:0:0:1]/x",
    "https://[::]/x",
    "https://[::127.0.0.1]/x", // deprecated IPv4-compatible
    "https://[fc00::1]/x",
    "https://[fd12:3456::1]/x",
    "https://[fe80::1]/x",
    "https://[febf::1]/x",
    "https://[fec0::1]/x",
    "https://[ff02::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:7f00:1]/x",
    "https://[::ffff:10.0.0.1]/x",
    "https://[::ffff:169.254.169.254]/x",
    "https://[::ffff:0:10.0.0.1]/x", // IPv4-translated
    "https://[64:ff9b::a9fe:a9fe]/x", // NAT64 of 169.254.169.254
    "https://[64:ff9b::192.168.0.1]/x",
    "https://[64:ff9b:1::1]/x", // local-use NAT64
    "https://[2002:a00:1::1]/x", // 6to4 of 10.0.0.1
    "https://[2001:db8::1]/x",
  ];
  const allowed = refused.filter((url) => checkWebhookUrl(url, prod).ok);
  assert.deepEqual(allowed, []);
});

Deno.test("checkWebhookUrl() refuses plain http, other schemes, other ports, credentials and non-URLs in production", () => {
  const cases: Array<[string, string]> = [
    ["http://hooks.example.com/x", "must use https"],
    ["ftp://hooks.example.com/x", "must use https"],
    ["https://hooks.example.com:8080/x", "must use port 443 or 8443"],
    ["https://hooks.example.com:22/x", "must use port 443 or 8443"],
    ["https://user:pw@hooks.example.com/x", "must not contain credentials"],
    ["https://:pw@hooks.example.com/x", "must not contain credentials"],
    ["not a url", "is not an absolute URL"],
    ["/relative/path", "is not an absolute URL"],
  ];
  for (const [url, reason] of cases) {
    assert.deepEqual(checkWebhookUrl(url, prod), { ok: false, reason }, url);
  }
});

Deno.test("checkWebhookUrl() allows local receivers on any port outside production, but never credentials or other schemes", () => {
  assert.equal(checkWebhookUrl("http://127.0.0.1:9000/hook", dev).ok, true);
  assert.equal(checkWebhookUrl("http://localhost:3000/hook", dev).ok, true);
  assert.equal(checkWebhookUrl("http://u:p@127.0.0.1:9000/hook", dev).ok, false);
  assert.equal(checkWebhookUrl("file:///etc/passwd", dev).ok, false);
  assert.equal(checkWebhookUrl("javascript:alert(1)", dev).ok, false);
});

Deno.test("the blocked IPv4 ranges end exactly at their prefix boundaries", () => {
  for (
    const url of [
      "https://9.255.255.255/x",
      "https://11.0.0.0/x",
      "https://100.63.255.255/x",
      "https://100.128.0.0/x",
      "https://169.253.255.255/x",
      "https://169.255.0.0/x",
      "https://172.15.255.255/x",
      "https://172.32.0.1/x",
      "https://192.0.1.1/x",
      "https://192.167.255.255/x",
      "https://192.169.0.0/x",
      "https://198.17.255.255/x",
      "https://198.20.0.0/x",
      "https://223.255.255.255/x",
    ]
  ) {
    assert.equal(checkWebhookUrl(url, prod).ok, true, url);
  }
});

const ipv4 = fc.tuple(
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 255 }),
).map((octets) => ({
  octets,
  n: ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0,
}));

/** Every spelling of an IPv4 address that URL parsing accepts for a host. */
const spellings = (a: { octets: number[]; n: number }) => [
  a.octets.join("."),
  String(a.n),
  `0x${a.n.toString(16)}`,
  `0${a.n.toString(8)}`,
  a.octets.map((o) => `0x${o.toString(16)}`).join("."),
  a.octets.map((o) => `0${o.toString(8)}`).join("."),
  `${a.octets[0]}.${(a.n & 0xffffff) >>> 0}`,
  `[::ffff:${a.octets.join(".")}]`,
  `[64:ff9b::${a.octets.join(".")}]`,
];

Deno.test("checkWebhookUrl() judges every IPv4 address the same in every spelling, and as its blocklist says", () => {
  fc.assert(
    fc.property(ipv4, (a) => {
      const expected = !isBlockedIpv4(a.n);
      for (const host of spellings(a)) {
        assert.equal(checkWebhookUrl(`https://${host}/hook`, prod).ok, expected, host);
      }
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("checkWebhookUrl() refuses every address in 10/8, 127/8, 169.254/16, 172.16/12 and 192.168/16", () => {
  const inRange = (base: number[], bits: number) =>
    fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((offset) => {
      const n = (((base[0] << 24) | (base[1] << 16) | (base[2] << 8) | base[3]) >>> 0) + offset;
      return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
    });
  fc.assert(
    fc.property(
      fc.oneof(
        inRange([10, 0, 0, 0], 8),
        inRange([127, 0, 0, 0], 8),
        inRange([169, 254, 0, 0], 16),
        inRange([172, 16, 0, 0], 12),
        inRange([192, 168, 0, 0], 16),
      ),
      (host) => !checkWebhookUrl(`https://${host}/`, prod).ok,
    ),
    { numRuns: 1_000 },
  );
});

Deno.test("checkWebhookUrl() never throws and, when it accepts in production, the URL is https on 443 or 8443 without credentials", () => {
  fc.assert(
    fc.property(fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string()), (raw) => {
      const verdict = checkWebhookUrl(raw, prod);
      if (verdict.ok) {
        assert.equal(verdict.url.protocol, "https:");
        assert.ok(["", "8443"].includes(verdict.url.port), raw);
        assert.equal(verdict.url.username + verdict.url.password, "");
      }
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("isBlockedAddress() judges a resolved address as checkWebhookUrl() judges the same literal, and refuses what is no address", () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (address) => {
      const literal = address.includes(":") ? `[${address}]` : address;
      assert.equal(
        isBlockedAddress(address),
        !checkWebhookUrl(`https://${literal}/hook`, prod).ok,
        address,
      );
    }),
    { seed: 6, numRuns: 5_000 },
  );
  for (const answer of ["127.0.0.1", "10.96.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(isBlockedAddress(answer), true, answer);
  }
  assert.equal(isBlockedAddress("203.0.113.5"), false);
  assert.equal(isBlockedAddress("2606:4700::1111"), false);
  assert.equal(isBlockedAddress("not an address"), true);
});
