import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addressBucket,
  formatIp,
  inCidr,
  parseCidr,
  parseCidrList,
  parseIp,
} from "../../../src/core/net/ip.ts";

const canonical = (text: string) => {
  const bytes = parseIp(text);
  return bytes && formatIp(bytes);
};

Deno.test("parseIp() reads dotted IPv4 and every IPv6 spelling into one canonical form", () => {
  const cases: Array<[string, string]> = [
    ["192.0.2.1", "192.0.2.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["::ffff:192.0.2.1", "192.0.2.1"], // a dual-stack socket's spelling of an IPv4 peer
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["::1", "::1"],
    ["::", "::"],
    ["fe80::1:2", "fe80::1:2"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
  ];
  for (const [text, expected] of cases) assert.equal(canonical(text), expected, text);
});

Deno.test("parseIp() refuses anything that is not exactly one address", () => {
  for (
    const text of [
      "",
      " 192.0.2.1",
      "192.0.2.1 ",
      "192.0.2",
      "192.0.2.256",
      "010.0.0.1", // octal to some parsers, decimal to others
      "0x7f.0.0.1",
      "2130706433",
      "192.0.2.1:443",
      "[::1]",
      "[::1]:443",
      "fe80::1%eth0",
      "1::2::3",
      "12345::",
      "::1]@evil.example:80/x?[",
      "unknown",
      "localhost",
      "1.2.3.4, 5.6.7.8",
      "::ffff:1.2.3.4.5",
    ]
  ) {
    assert.equal(parseIp(text), null, JSON.stringify(text));
  }
});

Deno.test("formatIp() and parseIp() round-trip every address", () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
      const first = canonical(text);
      assert.ok(first, text);
      assert.equal(canonical(first), first);
    }),
    { seed: 11, numRuns: 2000 },
  );
});

Deno.test("parseCidr() and inCidr() hold an address in its range, whichever way either is spelled", () => {
  const ten = parseCidr("10.0.0.0/8")!;
  assert.ok(inCidr(parseIp("10.255.1.2")!, ten));
  assert.ok(inCidr(parseIp("::ffff:10.9.9.9")!, ten), "the mapped spelling of an address in range");
  assert.ok(!inCidr(parseIp("11.0.0.1")!, ten));
  const one = parseCidr("192.0.2.7")!;
  assert.ok(inCidr(parseIp("192.0.2.7")!, one));
  assert.ok(!inCidr(parseIp("192.0.2.8")!, one));
  const odd = parseCidr("172.16.0.0/12")!;
  assert.ok(inCidr(parseIp("172.31.255.255")!, odd));
  assert.ok(!inCidr(parseIp("172.32.0.0")!, odd));
  const v6 = parseCidr("2001:db8:abcd::/49")!;
  assert.ok(inCidr(parseIp("2001:db8:abcd:7fff::1")!, v6));
  assert.ok(!inCidr(parseIp("2001:db8:abcd:8000::1")!, v6));
  const all = parseCidr("0.0.0.0/0")!;
  assert.ok(inCidr(parseIp("203.0.113.9")!, all));
  assert.ok(!inCidr(parseIp("2001:db8::1")!, all), "an IPv4 range never holds an IPv6 address");
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/8/8", "x/8"]) {
    assert.equal(parseCidr(bad), null, bad);
  }
  assert.deepEqual(parseCidrList(" 10.0.0.0/8, ::1 ,,nope, 1.2.3.4/40").invalid, [
    "nope",
    "1.2.3.4/40",
  ]);
});

Deno.test("addressBucket() counts an IPv6 client per /64 and an IPv4 client per address", () => {
  assert.equal(addressBucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(addressBucket("2001:db8:1:2:ffff:ffff:ffff:fffe"), "2001:db8:1:2::/64");
  assert.notEqual(addressBucket("2001:db8:1:3::1"), addressBucket("2001:db8:1:2::1"));
  assert.equal(addressBucket("192.0.2.1"), "192.0.2.1");
  assert.equal(addressBucket("::ffff:192.0.2.1"), "192.0.2.1");
});
