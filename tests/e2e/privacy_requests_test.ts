import assert from "node:assert/strict";
import { decryptField } from "../../src/core/crypto/envelope.ts";
import { payloadContext } from "../../src/services/plugins/fanout.ts";
import { eventually } from "../_support/channel.ts";
import { signedTokens } from "../../src/core/crypto/signed_token.ts";
import { countRows, sql, testStack } from "../_support/stack.ts";
import {
  asPrivacyStaff,
  newSubject,
  privacyWorld,
  requestIdByPrefix,
  tablesHolding,
  uniqueNumber,
} from "../_support/privacy.ts";

/**
 * Every kind of data-subject request end to end on the local stack, as a person makes it: the
 * public page files it, a one-time code reaches their WhatsApp number (through the send
 * pipeline and the Graph API emulator), they enter it, privacy staff approve and run it in the
 * database as `privacy_staff`, and the sweeper carries out each business's part under that
 * business's RLS.
 */

const approveAndRun = (id: string) =>
  asPrivacyStaff([
    ["select privacy.approve_request($1, 'identity checked by code')", [id]],
    ["select status from privacy.run_fulfilment($1)", [id]],
  ]);

const linksOf = (html: string) =>
  [...html.matchAll(/href="(\/privacy\/exports\/[^"]+)"/g)].map((m) => m[1]);

Deno.test("an access request filed on /privacy exports, once, everything two businesses keep about the subject", async () => {
  const world = await privacyWorld();
  try {
    const subject = newSubject();
    const [a, b] = world.businesses;
    await world.writeIn(subject, a, subject.texts[0]);
    await world.writeIn(subject, b, subject.texts[1]);

    const code = await world.fileOnWeb("access", `+${subject.waId}`);
    const otp = await world.codeSentTo(subject.waId);
    const verified = await world.page(`/privacy/requests/${code}/verify`, { code: otp });
    assert.equal(verified.status, 303, verified.text);
    const id = await requestIdByPrefix(code);
    assert.equal((await approveAndRun(id))[0].status, "in_progress");
    await world.sweep();

    const status = await world.page(`/privacy/requests/${code}`);
    assert.match(status.text, /Done/);
    const links = linksOf(status.text);
    assert.equal(links.length, 3, "one export per business that knows the number, sender included");
    // a link whose time has passed opens nothing, even for an export never downloaded
    const exportId = (await sql<{ id: string }>(
      "select id from privacy_exports where request_id = $1 limit 1",
      [id],
    ))[0].id;
    const expired = await signedTokens(testStack().secrets.api_key_pepper, "privacy-export")
      .sign("export", `${exportId}.${Math.floor(Date.now() / 1000) - 1}`);
    const late = await fetch(`${world.ch.appUrl}/privacy/exports/${expired}`);
    assert.equal(late.status, 410);
    await late.body?.cancel();
    const documents = [];
    for (const link of links) {
      const res = await fetch(`${world.ch.appUrl}${link}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-disposition") ?? "", /attachment/);
      documents.push(await res.json());
      const again = await fetch(`${world.ch.appUrl}${link}`);
      assert.equal(again.status, 410, "the link works once");
      await again.body?.cancel();
    }
    const all = JSON.stringify(documents);
    for (const text of subject.texts) assert.ok(all.includes(text), `the export holds "${text}"`);
    assert.ok(all.includes(subject.name), "the export holds the profile name");
    const forA = documents.find((d) => d.controller.client_id === a.clientId);
    assert.equal(forA.messages.length, 1);
    assert.ok(JSON.stringify(forA.messages[0].content).includes(subject.texts[0]));
    assert.equal(forA.messages[0].direction, "inbound");
    assert.equal(forA.contacts[0].profile_name, subject.name);
    assert.ok(!JSON.stringify(forA).includes(subject.texts[1]), "each business's own data only");
    const [{ n }] = await sql<{ n: number }>(
      "select count(*)::int as n from privacy_exports where request_id = $1 and content_ciphertext is not null",
      [id],
    );
    assert.equal(n, 0, "a downloaded export keeps no content");
  } finally {
    await world.close();
  }
});

Deno.test("a deletion whose subject has data with two businesses erases it at both, and a scan of every table (plugin tables too) finds only the request's proof", async () => {
  // with plugins: the rememberer keeps each text in its state and parks each event
  const world = await privacyWorld({ plugins: true });
  try {
    const subject = newSubject();
    const bystander = newSubject();
    const [a, b] = world.businesses;
    await world.writeIn(subject, a, subject.texts[0]);
    await world.writeIn(subject, b, subject.texts[1]);
    await world.writeIn(bystander, a, bystander.texts[0]);

    const code = await world.fileOnWeb("deletion", `+${subject.waId}`);
    const otp = await world.codeSentTo(subject.waId);
    const verify = await world.page(`/privacy/requests/${code}/verify`, { code: otp });
    assert.equal(verify.status, 303);
    // the subject's own visit is in the API request log, with their address
    const logged = () =>
      sql<{ n: number }>("select count(*)::int as n from api_request_log where request_id = $1", [
        verify.requestId,
      ]).then(([r]) => r.n);
    await eventually(async () => (await logged()) === 1, "the visit's log row");
    const id = await requestIdByPrefix(code);
    await approveAndRun(id);
    await world.sweep();
    assert.equal(await logged(), 0, "the subject's visits leave the request log with the rest");

    const [request] = await sql<Record<string, unknown>>(
      "select status, subject_ciphertext, details_ciphertext, subject_request_ids from privacy_requests where id = $1",
      [id],
    );
    assert.deepEqual(request, {
      status: "completed",
      subject_ciphertext: null,
      details_ciphertext: null,
      subject_request_ids: [],
    });
    const parts = await sql<{ client_id: string; status: string; result: Record<string, number> }>(
      "select client_id, status, result from privacy_request_parts where request_id = $1",
      [id],
    );
    const partOf = (clientId: string) => parts.find((p) => p.client_id === clientId)!;
    for (const business of [a, b]) {
      assert.equal(partOf(business.clientId).status, "done");
      assert.equal(partOf(business.clientId).result.messages, 1);
      assert.equal(partOf(business.clientId).result.contacts, 1);
    }
    assert.ok(partOf(world.sender), "the sender's verification messages are erased too");

    const found = await tablesHolding([subject.waId, subject.name, ...subject.texts]);
    assert.deepEqual(found, {}, "nothing holds the number, the name or the texts");
    assert.equal(await countRows("contacts", a.clientId), 1, "the bystander is kept");
    assert.equal(await countRows("messages", a.clientId), 1);
    assert.deepEqual(
      Object.keys(await tablesHolding([bystander.waId])).length > 0,
      true,
      "the scan does find a number that was not erased (it is live)",
    );

    const status = await world.page(`/privacy/requests/${code}`);
    assert.match(status.text, /Done/, "the status page says it is done");
  } finally {
    await world.close();
  }
});

Deno.test("a consent withdrawal stops messages to the subject as soon as the code is entered, at every business", async () => {
  const world = await privacyWorld();
  try {
    const subject = newSubject();
    const [a, b] = world.businesses;
    await world.writeIn(subject, a, subject.texts[0]);
    await world.writeIn(subject, b, subject.texts[1]);
    // a message of business A that waits for its turn when the withdrawal arrives
    const [contact] = await sql<{ id: string }>(
      "select id from contacts where client_id = $1 and wa_id = $2",
      [a.clientId, subject.waId],
    );
    const [queued] = await sql<{ id: string }>(
      `insert into messages (client_id, phone_number_id, contact_id, direction, type, status,
         recipient, next_attempt_at)
       values ($1, $2, $3, 'outbound', 'template', 'queued', $4, now() + interval '1 hour')
       returning id`,
      [a.clientId, a.phoneId, contact.id, subject.waId],
    );

    const code = await world.fileOnWeb("consent_withdrawal", `+${subject.waId}`);
    const otp = await world.codeSentTo(subject.waId);
    assert.equal((await world.page(`/privacy/requests/${code}/verify`, { code: otp })).status, 303);

    // no approval, no sweep: done by the time the page answered
    const consent = await sql<{ client_id: string; consent_status: string }>(
      "select client_id, consent_status from contacts where wa_id = $1 order by client_id",
      [subject.waId],
    );
    const statusAt = (id: string) => consent.find((c) => c.client_id === id)?.consent_status;
    assert.equal(statusAt(a.clientId), "opted_out");
    assert.equal(statusAt(b.clientId), "opted_out");
    assert.equal(statusAt(world.sender), "unknown", "the sender of codes can still send one");
    const [stopped] = await sql<{ status: string; error: { code: string } }>(
      "select status, error from messages where id = $1",
      [queued.id],
    );
    assert.equal(stopped.status, "failed");
    assert.equal(stopped.error.code, "contact_opted_out");
    const [request] = await sql<{ status: string }>(
      "select status from privacy_requests where id = $1",
      [await requestIdByPrefix(code)],
    );
    assert.equal(request.status, "completed");

    // and business B's next send to them is refused
    const events = await sql<{ source: string }>(
      "select source from consent_events where client_id = $1",
      [b.clientId],
    );
    assert.deepEqual(events.map((e) => e.source), ["privacy_request"]);
  } finally {
    await world.close();
  }
});

Deno.test("a correction approved by staff rewrites the subject's name, encrypted, at each business", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const subject = newSubject();
    const [a] = world.businesses;
    await world.writeIn(subject, a, subject.texts[0]);
    const code = await world.fileOnWeb("correction", `+${subject.waId}`, {
      corrected_name: "Ana Corrected",
    });
    const otp = await world.codeSentTo(subject.waId);
    assert.equal((await world.page(`/privacy/requests/${code}/verify`, { code: otp })).status, 303);
    const id = await requestIdByPrefix(code);
    await asPrivacyStaff([["select privacy.apply_correction($1, 'name as on their ID')", [id]]]);
    await world.sweep();

    const [row] = await sql<{ profile_name_ciphertext: string }>(
      "select profile_name_ciphertext from contacts where client_id = $1 and wa_id = $2",
      [a.clientId, subject.waId],
    );
    const key = await world.ch.app.deps.services.dataKeys.forClient(a.clientId);
    assert.equal(
      await decryptField(key, row.profile_name_ciphertext, `contact_name:${a.clientId}`),
      "Ana Corrected",
    );
    assert.deepEqual(
      await tablesHolding(["Ana Corrected"]),
      {},
      "the new name is nowhere in clear",
    );
    const [request] = await sql<{ status: string }>(
      "select status from privacy_requests where id = $1",
      [id],
    );
    assert.equal(request.status, "completed");
  } finally {
    await world.close();
  }
});

Deno.test("a wrong code is refused and counted, an expired code is refused, and the fifth wrong try locks the request", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const subject = newSubject();
    await world.writeIn(subject, world.businesses[0], subject.texts[0]);
    const code = await world.fileOnWeb("deletion", `+${subject.waId}`);
    const otp = await world.codeSentTo(subject.waId);
    const wrong = otp === "000000" ? "000001" : "000000";

    const first = await world.page(`/privacy/requests/${code}/verify`, { code: wrong });
    assert.equal(first.status, 400);
    assert.match(first.text, /not right\. You can try 4 more times/);

    // the code expires: it is refused even when right
    const id = await requestIdByPrefix(code);
    await sql(
      "update privacy_verification_codes set expires_at = now() - interval '1 second' where request_id = $1",
      [id],
    );
    const expired = await world.page(`/privacy/requests/${code}/verify`, { code: otp });
    assert.equal(expired.status, 400);
    assert.match(expired.text, /expired/);
    await sql(
      "update privacy_verification_codes set expires_at = now() + interval '10 minutes' where request_id = $1",
      [id],
    );

    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await world.page(`/privacy/requests/${code}/verify`, { code: wrong })).status,
        400,
      );
    }
    const locked = await world.page(`/privacy/requests/${code}/verify`, { code: wrong });
    assert.equal(locked.status, 429, "the fifth wrong try spends the last attempt");
    assert.match(locked.text, /too many times/);
    const afterLock = await world.page(`/privacy/requests/${code}/verify`, { code: otp });
    assert.equal(afterLock.status, 429, "not even the right code works any more");
    assert.match(afterLock.text, /too many times/);
    const [request] = await sql<{ status: string; verified_at: string | null }>(
      "select status, verified_at from privacy_requests where id = $1",
      [id],
    );
    assert.deepEqual(request, { status: "unverified", verified_at: null });
    const [codeRow] = await sql<{ code_hash: string }>(
      "select code_hash from privacy_verification_codes where request_id = $1",
      [id],
    );
    assert.match(codeRow.code_hash, /^[0-9a-f]{64}$/, "the code is stored as a keyed hash");
    assert.notEqual(codeRow.code_hash.includes(otp), true);
  } finally {
    await world.close();
  }
});

Deno.test("the public page answers the same for a number nobody knows, and sends it nothing", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const stranger = uniqueNumber();
    const code = await world.fileOnWeb("access", `+${stranger}`);
    const status = await world.page(`/privacy/requests/${code}?n=sent`);
    assert.equal(status.status, 200);
    assert.match(status.text, /If we hold data about this number, we have sent a code/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await world.codesSentTo(stranger), 0);
  } finally {
    await world.close();
  }
});

Deno.test("what plugins hold about the subject is exported by an access request and erased by a deletion: through their privacy hooks, and the plugin state and parked events that name the subject through the core", async () => {
  const world = await privacyWorld({ businesses: 1, plugins: true });
  try {
    const subject = newSubject();
    const bystander = newSubject();
    const [a] = world.businesses;
    const said = `echo ${subject.texts[0]}`;
    await world.writeIn(subject, a, said);
    await world.writeIn(bystander, a, `echo ${bystander.texts[0]}`);
    const stateNaming = (waId: string) =>
      sql<{ plugin_id: string; key: string }>(
        "select plugin_id, key from plugin_state where client_id = $1 and key like $2 order by 1",
        [a.clientId, `%:${waId}`],
      );
    // the example plugin counted the echo (its privacy hooks cover that); the rememberer kept the
    // text in its state and parked the event, payload and all (no hook of its own)
    assert.deepEqual((await stateNaming(subject.waId)).map((r) => r.plugin_id), [
      "example-echo",
      "rememberer",
    ]);
    const parked = () =>
      sql<{ id: string; payload_ciphertext: string }>(
        `select id, payload_ciphertext from plugin_deliveries
          where client_id = $1 and status = 'parked' and payload_ciphertext is not null`,
        [a.clientId],
      );
    assert.equal((await parked()).length, 2);

    const access = await world.fileOnWeb("access", `+${subject.waId}`);
    const otp = await world.codeSentTo(subject.waId);
    assert.equal(
      (await world.page(`/privacy/requests/${access}/verify`, { code: otp })).status,
      303,
    );
    await approveAndRun(await requestIdByPrefix(access));
    await world.sweep();
    const documents = [];
    for (const link of linksOf((await world.page(`/privacy/requests/${access}`)).text)) {
      documents.push(await (await fetch(`${world.ch.appUrl}${link}`)).json());
    }
    const forA = documents.find((d) => d.controller.client_id === a.clientId);
    const [contact] = await sql<{ id: string }>(
      "select id from contacts where client_id = $1 and wa_id = $2",
      [a.clientId, subject.waId],
    );
    assert.deepEqual(forA.plugins, {
      "example-echo": [{ contact_id: contact.id, data: { echoes: 1 } }],
    });
    assert.deepEqual(
      forA.plugin_state.map((s: { plugin_id: string; key: string; value: unknown }) => [
        s.plugin_id,
        s.key,
        s.value,
      ]),
      [
        ["example-echo", `echoes:${subject.waId}`, 1],
        ["rememberer", `last:${subject.waId}`, { text: said }],
      ],
    );
    assert.ok(!JSON.stringify(forA).includes(bystander.waId), "nothing of the bystander");

    const deletion = await world.fileOnWeb("deletion", `+${subject.waId}`);
    const otp2 = await world.codeSentTo(subject.waId, 1);
    assert.equal(
      (await world.page(`/privacy/requests/${deletion}/verify`, { code: otp2 })).status,
      303,
    );
    const id = await requestIdByPrefix(deletion);
    await approveAndRun(id);
    await world.sweep();
    const [part] = await sql<{ status: string; result: Record<string, unknown> }>(
      "select status, result from privacy_request_parts where request_id = $1 and client_id = $2",
      [id, a.clientId],
    );
    assert.equal(part.status, "done");
    assert.deepEqual(part.result.plugins, ["example-echo"], "the example's hook erased its count");
    assert.equal(part.result.plugin_state, 1, "the rememberer's state, by the core");
    assert.equal(part.result.plugin_deliveries, 1, "the subject's parked event, by the core");
    assert.deepEqual(await stateNaming(subject.waId), []);
    assert.equal((await stateNaming(bystander.waId)).length, 2, "the bystander's stays");
    const left = await parked();
    assert.equal(left.length, 1);
    const key = await world.ch.app.deps.services.dataKeys.forClient(a.clientId);
    const payload = await decryptField(key, left[0].payload_ciphertext, payloadContext(left[0].id));
    assert.ok(payload.includes(bystander.waId), "the parked event left is the bystander's");
    assert.deepEqual(await tablesHolding([subject.waId, subject.name, said]), {});
  } finally {
    await world.close();
  }
});
