import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey } from "../../_support/app.ts";
import { sql } from "../../_support/stack.ts";
import {
  asPrivacyStaff,
  newSubject,
  privacyWorld,
  requestIdByPrefix,
} from "../../_support/privacy.ts";

const post = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) });

Deno.test("POST /v1/privacy/requests with an attestation files a verified request; the client reads it, another client cannot", async () => {
  const world = await privacyWorld({ businesses: 0 });
  try {
    const subject = newSubject();
    await world.writeIn(subject, world.ch, subject.texts[0]);
    const filed = await world.ch.api(
      "/v1/privacy/requests",
      post({
        type: "access",
        subject: { phone: `+${subject.waId}` },
        verification: { method: "client_attestation", attested_by: "jane@shop.example" },
        external_id: "ticket-4711",
      }),
    );
    assert.equal(filed.status, 201, JSON.stringify(filed.body));
    const request = filed.body.request;
    assert.equal(request.status, "verified");
    assert.equal(request.channel, "api");
    assert.equal(request.verification.method, "client_attestation");
    assert.equal(request.verification.attested_by, "jane@shop.example");
    assert.ok(request.verification.attested_at, "recorded when");
    assert.equal(request.parts.length, 1);
    assert.equal(request.parts[0].client_id, world.ch.clientId);
    assert.equal(request.parts[0].status, "pending");
    assert.match(filed.body.confirmation_code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
    assert.equal(filed.body.status_url, `/privacy/requests/${filed.body.confirmation_code}`);
    const deadline = Date.parse(request.deadline) - Date.parse(request.received_at);
    assert.ok(deadline >= 28 * 86400_000 && deadline <= 31 * 86400_000, "one month");

    // filing again with the same external_id returns the first request, without its code
    const again = await world.ch.api(
      "/v1/privacy/requests",
      post({
        type: "access",
        subject: { phone: `+${subject.waId}` },
        verification: { method: "client_attestation", attested_by: "jane@shop.example" },
        external_id: "ticket-4711",
      }),
    );
    assert.equal(again.status, 200);
    assert.equal(again.body.request.id, request.id);
    assert.equal(again.body.confirmation_code, null);

    const list = await world.ch.api("/v1/privacy/requests");
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.map((r: { id: string }) => r.id), [request.id]);
    assert.equal((await world.ch.api(`/v1/privacy/requests/${request.id}`)).status, 200);

    // staff approve and run it: the client gets the export link (it filed the request)
    await asPrivacyStaff([
      ["select privacy.approve_request($1)", [request.id]],
      ["select privacy.run_fulfilment($1)", [request.id]],
    ]);
    await world.sweep();
    const done = await world.ch.api(`/v1/privacy/requests/${request.id}`);
    assert.equal(done.body.request.status, "completed");
    assert.equal(done.body.request.parts[0].result.messages, 1);
    const url = done.body.request.exports[0].url;
    assert.match(url, /^\/privacy\/exports\//);
    const download = await fetch(`${world.ch.appUrl}${url}`);
    assert.equal(download.status, 200);
    assert.ok(JSON.stringify(await download.json()).includes(subject.texts[0]));
    const used = await world.ch.api(`/v1/privacy/requests/${request.id}`);
    assert.equal(used.body.request.exports[0].url, null, "used: no link any more");
    assert.ok(used.body.request.exports[0].downloaded_at);

    // another client sees nothing of it
    const other = await clientWithKey({ scopes: ["privacy:write"] });
    const { call } = await appUnderTest();
    const theirs = await call("/v1/privacy/requests", { headers: bearer(other.key) });
    assert.deepEqual(theirs.body.data, []);
    const one = await call(`/v1/privacy/requests/${request.id}`, { headers: bearer(other.key) });
    assert.equal(one.status, 404);
  } finally {
    await world.close();
  }
});

Deno.test("POST /v1/privacy/requests with whatsapp_code sends a code only to the client's own contact, and the subject verifies it on the status page", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const subject = newSubject();
    const stranger = newSubject();
    await world.writeIn(subject, world.ch, subject.texts[0]);
    // known to another business only: not this client's contact
    await world.writeIn(stranger, world.businesses[0], stranger.texts[0]);

    const refused = await world.ch.api(
      "/v1/privacy/requests",
      post({
        type: "deletion",
        subject: { phone: `+${stranger.waId}` },
        verification: { method: "whatsapp_code" },
      }),
    );
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, "unknown_subject");
    assert.equal(await world.codesSentTo(stranger.waId), 0);

    const filed = await world.ch.api(
      "/v1/privacy/requests",
      post({
        type: "deletion",
        subject: { phone: `+${subject.waId}` },
        verification: { method: "whatsapp_code" },
      }),
    );
    assert.equal(filed.status, 201, JSON.stringify(filed.body));
    assert.equal(filed.body.request.status, "unverified");
    const otp = await world.codeSentTo(subject.waId);
    const code = filed.body.confirmation_code;
    assert.equal((await world.page(`/privacy/requests/${code}/verify`, { code: otp })).status, 303);
    const verified = await world.ch.api(`/v1/privacy/requests/${filed.body.request.id}`);
    assert.equal(verified.body.request.status, "verified");
  } finally {
    await world.close();
  }
});

Deno.test("a request made on the public page shows up for each business it concerns, without the subject's export link", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const subject = newSubject();
    await world.writeIn(subject, world.ch, subject.texts[0]);
    await world.writeIn(subject, world.businesses[0], subject.texts[1]);
    const code = await world.fileOnWeb("access", `+${subject.waId}`);
    const before = await world.ch.api("/v1/privacy/requests");
    assert.deepEqual(before.body.data, [], "an unverified request concerns no business yet");
    const otp = await world.codeSentTo(subject.waId);
    await world.page(`/privacy/requests/${code}/verify`, { code: otp });
    const id = await requestIdByPrefix(code);
    await asPrivacyStaff([
      ["select privacy.approve_request($1)", [id]],
      ["select privacy.run_fulfilment($1)", [id]],
    ]);
    await world.sweep();
    const seen = await world.ch.api(`/v1/privacy/requests/${id}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.request.channel, "web");
    assert.equal(seen.body.request.exports.length, 1);
    assert.equal(seen.body.request.exports[0].url, null, "the subject's link is the subject's");
    assert.match((await world.page(`/privacy/requests/${code}`)).text, /\/privacy\/exports\//);
  } finally {
    await world.close();
  }
});

Deno.test("POST /v1/privacy/requests refuses what it cannot carry out, before storing anything", async () => {
  const { clientId, key } = await clientWithKey({ scopes: ["privacy:write"] });
  const { call } = await appUnderTest();
  const cases: Array<[unknown, number, string]> = [
    [
      {
        type: "correction",
        subject: { phone: "+447700900123" },
        verification: { method: "client_attestation", attested_by: "a" },
      },
      400,
      "invalid_request",
    ],
    [
      {
        type: "access",
        subject: {},
        verification: { method: "client_attestation", attested_by: "a" },
      },
      400,
      "invalid_request",
    ],
    [
      {
        type: "access",
        subject: { phone: "12" },
        verification: { method: "client_attestation", attested_by: "a" },
      },
      400,
      "invalid_request",
    ],
    [
      {
        type: "access",
        subject: { phone: "+1 (abc)" },
        verification: { method: "client_attestation", attested_by: "a" },
      },
      400,
      "invalid_recipient",
    ],
    [
      {
        type: "erase",
        subject: { phone: "+447700900123" },
        verification: { method: "client_attestation", attested_by: "a" },
      },
      400,
      "invalid_request",
    ],
    [
      {
        type: "access",
        subject: { phone: "+447700900123" },
        verification: { method: "client_attestation", attested_by: "a\u0000" },
      },
      400,
      "invalid_request",
    ],
    // the test stack configures no sender of codes
    [
      {
        type: "access",
        subject: { phone: "+447700900123" },
        verification: { method: "whatsapp_code" },
      },
      422,
      "verification_unavailable",
    ],
  ];
  for (const [body, status, code] of cases) {
    const res = await call("/v1/privacy/requests", {
      method: "POST",
      headers: { ...bearer(key), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code);
  }
  const [{ n }] = await sql<{ n: number }>(
    "select count(*)::int as n from privacy_requests where filing_client_id = $1",
    [clientId],
  );
  assert.equal(n, 0);
});
