import assert from "node:assert/strict";
import { PAGE_POLICY } from "../../../src/http/middleware/content_security_policy.ts";
import { appUnderTest } from "../../_support/app.ts";

Deno.test("/privacy is one HTML page with the strict policy, no script, the contact and a language", async () => {
  const { call } = await appUnderTest({ PRIVACY_CONTACT_EMAIL: "privacy@provider.example" });
  const page = await call("/privacy", { headers: { "accept-language": "xx-YY, en;q=0.5" } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(page.headers.get("content-security-policy"), PAGE_POLICY);
  assert.equal(page.headers.get("referrer-policy"), "no-referrer", "a code in the URL stays here");
  assert.match(page.body, /<html lang="en">/);
  assert.doesNotMatch(page.body, /<script|style=/i);
  assert.match(page.body, /Questions about your data: privacy@provider\.example/);
  // the test stack names no sender of codes: the page says requests cannot be verified here
  assert.match(page.body, /cannot be verified on this page/);
  const css = await call("/privacy/privacy.css");
  assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
});

Deno.test("the privacy pages answer an unknown or malformed code, a broken form and a missing sender with pages, not errors of ours", async () => {
  const { call } = await appUnderTest();
  const unknown = await call("/privacy/requests/7K3Q-AAAA-BBBB-CCCC-DDDD");
  assert.equal(unknown.status, 404);
  assert.match(unknown.body, /no request with this confirmation code/);
  assert.equal((await call(`/privacy/requests/${"x".repeat(500)}`)).status, 404);
  const follow = await call("/privacy/status?code=7k3q aaaa bbbb cccc dddd");
  assert.equal(follow.status, 303);
  assert.match(
    follow.headers.get("location") ?? "",
    /^\/privacy\/requests\/7K3Q-AAAA-BBBB-CCCC-DDDD\?/,
  );
  assert.equal((await call("/privacy/status?code=%F0%90%80%80")).status, 404);
  const unavailable = await call("/privacy/requests", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "type=access&number=%2B447700900123",
  });
  assert.equal(unavailable.status, 503);
  assert.match(unavailable.body, /cannot be verified on this page/);
  const gone = await call("/privacy/exports/abc.def");
  assert.equal(gone.status, 410);
  assert.match(gone.body, /expired or was already used/);
});

Deno.test("the privacy forms take at most 20 posts a minute from one address", async () => {
  const { call } = await appUnderTest();
  const post = (ip: string) =>
    call("/privacy/requests", {
      method: "POST",
      ip,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "type=access&number=%2B447700900123",
    });
  for (let i = 0; i < 20; i++) assert.equal((await post("203.0.113.9")).status, 503);
  const refused = await post("203.0.113.9");
  assert.equal(refused.status, 429);
  assert.match(refused.body, /Too many requests from your connection/);
  assert.equal((await post("203.0.113.10")).status, 503, "another address is not held back");
});
