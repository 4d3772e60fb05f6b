import assert from "node:assert/strict";
import { signSignedRequest } from "../../../src/core/privacy/meta_signed_request.ts";
import { appUnderTest } from "../../_support/app.ts";
import { sql, testStack } from "../../_support/stack.ts";

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

const countRequests = async () =>
  (await sql<{ n: number }>(
    "select count(*)::int as n from privacy_requests where channel = 'meta'",
  ))[0]
    .n;

Deno.test("Meta's data deletion callback with a valid signed_request files a verified deletion and answers {url, confirmation_code}; the status page shows it by its code", async () => {
  const { call } = await appUnderTest({ PUBLIC_BASE_URL: "https://edge.example.com" });
  const userId = String(Math.floor(Math.random() * 1e15));
  const issuedAt = Math.floor(Date.now() / 1000);
  const signed = await signSignedRequest(
    { algorithm: "HMAC-SHA256", issued_at: issuedAt, user_id: userId },
    testStack().secrets.meta_app_secret,
  );
  const res = await call("/privacy/meta/data-deletion", form({ signed_request: signed }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body).sort(), ["confirmation_code", "url"]);
  const code = res.body.confirmation_code as string;
  assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
  assert.equal(res.body.url, `https://edge.example.com/privacy/requests/${code}`);

  const [row] = await sql<Record<string, unknown>>(
    "select type, status, channel, verification_method, verified_at is not null as verified from privacy_requests where reference_prefix = $1 and channel = 'meta' order by received_at desc limit 1",
    [code.slice(0, 4)],
  );
  assert.deepEqual(row, {
    type: "deletion",
    status: "verified",
    channel: "meta",
    verification_method: "meta_signature",
    verified: true,
  });
  const everything = JSON.stringify(await sql("select * from privacy_requests"));
  assert.ok(!everything.includes(userId), "the app-scoped id is stored only encrypted and hashed");

  const page = await call(`/privacy/requests/${code}`);
  assert.equal(page.status, 200);
  assert.match(page.body, /Deletion of your data/);
  assert.match(page.body, /Verified; waiting for our privacy team/);

  // Meta repeats a callback it thinks failed: same code, nothing new
  const before = await countRequests();
  const again = await call("/privacy/meta/data-deletion", form({ signed_request: signed }));
  assert.equal(again.status, 200);
  assert.equal(again.body.confirmation_code, code);
  assert.equal(await countRequests(), before);
});

Deno.test("a forged, tampered or malformed signed_request is refused with a 4xx and stores nothing", async () => {
  const { call } = await appUnderTest();
  const secret = testStack().secrets.meta_app_secret;
  const payload = { algorithm: "HMAC-SHA256", issued_at: 1_800_000_000, user_id: "12345" };
  const good = await signSignedRequest(payload, secret);
  const [signature, encoded] = good.split(".");
  const tampered = `${signature}.${
    (await signSignedRequest({ ...payload, user_id: "67890" }, secret)).split(".")[1]
  }`;
  const cases: Array<[string, RequestInit, number, string]> = [
    [
      "signed with another secret",
      form({ signed_request: await signSignedRequest(payload, "not-the-app-secret") }),
      401,
      "invalid_signature",
    ],
    [
      "payload swapped under a valid signature",
      form({ signed_request: tampered }),
      401,
      "invalid_signature",
    ],
    ["no signature", form({ signed_request: `.${encoded}` }), 400, "invalid_payload"],
    ["not base64url", form({ signed_request: `%%%.${encoded}` }), 400, "invalid_payload"],
    ["one part", form({ signed_request: encoded }), 400, "invalid_payload"],
    ["missing", form({}), 400, "invalid_payload"],
    [
      "another algorithm",
      form({
        signed_request: await signSignedRequest({ ...payload, algorithm: "HMAC-SHA1" }, secret),
      }),
      400,
      "invalid_payload",
    ],
    [
      "a user id that is no id",
      form({ signed_request: await signSignedRequest({ ...payload, user_id: "../x" }, secret) }),
      400,
      "invalid_payload",
    ],
    [
      "oversize",
      form({ signed_request: `${"a".repeat(5000)}.${encoded}` }),
      400,
      "invalid_payload",
    ],
    [
      "JSON instead of a form",
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ signed_request: good }),
      },
      415,
      "unsupported_media_type",
    ],
  ];
  const before = await countRequests();
  for (const [what, init, status, code] of cases) {
    const res = await call("/privacy/meta/data-deletion", init);
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code, what);
    assert.ok(res.body.error.request_id, what);
  }
  assert.equal(await countRequests(), before, "nothing was stored");
  // the control: the same request, validly signed, is accepted
  assert.equal(
    (await call("/privacy/meta/data-deletion", form({ signed_request: good }))).status,
    200,
  );
});
