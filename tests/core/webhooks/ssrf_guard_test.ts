import assert from "node:assert/strict";
import { checkWebhookUrl } from "../../../src/core/webhooks/ssrf_guard.ts";

const prod = { allowPrivate: false };

Deno.test("checkWebhookUrl() accepts public https endpoints", () => {
  for (
    const url of [
      "https://hooks.example.com/whatsapp",
      "https://93.184.216.34:8443/x",
      "https://[2606:4700::1111]/x",
    ]
  ) {
    assert.equal(checkWebhookUrl(url, prod).ok, true, url);
  }
});

Deno.test("checkWebhookUrl() refuses private, loopback, link-local and odd spellings of them in production", () => {
  const refused = [
    "http://hooks.example.com/x", // not https
    "https://user:pw@hooks.example.com/x",
    "https://localhost/x",
    "https://api.localhost/x",
    "https://printer.local/x",
    "https://metadata.google.internal/x",
    "https://intranet/x",
    "https://127.0.0.1/x",
    "https://127.1/x",
    "https://2130706433/x", // 127.0.0.1 as one number
    "https://0x7f000001/x",
    "https://0177.0.0.1/x", // octal
    "https://10.1.2.3/x",
    "https://172.16.0.1/x",
    "https://172.31.255.255/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/x",
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",
    "https://[::1]/x",
    "https://[::]/x",
    "https://[fd00::1]/x",
    "https://[fe80::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:10.0.0.1]/x",
    "https://[64:ff9b::a9fe:a9fe]/x",
    "ftp://hooks.example.com/x",
    "not a url",
  ];
  const allowed = refused.filter((url) => checkWebhookUrl(url, prod).ok);
  assert.deepEqual(allowed, []);
});

Deno.test("checkWebhookUrl() allows local receivers outside production, but never credentials", () => {
  assert.equal(checkWebhookUrl("http://127.0.0.1:9000/hook", { allowPrivate: true }).ok, true);
  assert.equal(checkWebhookUrl("http://u:p@127.0.0.1:9000/hook", { allowPrivate: true }).ok, false);
  assert.equal(checkWebhookUrl("file:///etc/passwd", { allowPrivate: true }).ok, false);
});

Deno.test("172.15.x and 172.32.x are public, so they pass (the /12 boundary is exact)", () => {
  assert.equal(checkWebhookUrl("https://172.15.255.255/x", prod).ok, true);
  assert.equal(checkWebhookUrl("https://172.32.0.1/x", prod).ok, true);
});
