import assert from "node:assert/strict";
import pg from "pg";
import { countRows, createClientWithPhone, sql, testApp, testStack } from "../_support/stack.ts";
import { asPrivacyStaff, runDuePrivacyWork, uniqueNumber } from "../_support/privacy.ts";

/**
 * The Studio workflow as privacy staff run it: as the `privacy_staff` role, named with
 * privacy.act_as(), through the staff functions only. Each action is audited with the staff
 * member; the role reads no message content and no secret.
 */

const hex64 = () => (crypto.randomUUID() + crypto.randomUUID()).replaceAll("-", "");

/** A verified API request of `clientId`, filed as the service role files one. */
async function verifiedRequest(clientId: string, type = "deletion") {
  const client = new pg.Client({ connectionString: testStack().adminDbUrl });
  await client.connect();
  try {
    await client.query(`select set_config('request.jwt.claims', '{"role":"service_role"}', false)`);
    const { rows } = await client.query(
      `select (public.file_privacy_request(jsonb_build_object(
         'reference_hash', $1::text, 'reference_prefix', 'TEST', 'filing_client_id', $2::text,
         'type', $3::text, 'channel', 'api', 'subject_kind', 'whatsapp', 'subject_hash', $1::text,
         'verification_method', 'client_attestation', 'attested_by', 'jane', 'filed_by', 'test'))
         -> 'request' ->> 'id') as id`,
      [hex64(), clientId, type],
    );
    return rows[0].id as string;
  } finally {
    await client.end();
  }
}

const staffError = async (statement: string, params: unknown[]) => {
  try {
    await asPrivacyStaff([[statement, params]]);
  } catch (error) {
    return (error as { code?: string; message: string });
  }
  assert.fail(`${statement} succeeded`);
};

Deno.test("a staff function refuses to run until the staff member says who they are", async () => {
  const client = new pg.Client({ connectionString: testStack().adminDbUrl });
  await client.connect();
  try {
    await client.query("set role privacy_staff");
    const id = crypto.randomUUID();
    await assert.rejects(
      client.query("select privacy.approve_request($1)", [id]),
      (e: { code: string; message: string }) =>
        e.code === "28000" && /privacy\.act_as/.test(e.message),
    );
  } finally {
    await client.end();
  }
});

Deno.test("approve, reject with a reason, extend a deadline once and run: each checked against the workflow and audited with the staff member", async () => {
  const { clientId } = await createClientWithPhone("Staff test client");
  const a = await verifiedRequest(clientId);
  const b = await verifiedRequest(clientId);

  const [approved] = await asPrivacyStaff<{ status: string; approved_by: string }>([
    ["select status, approved_by from privacy.approve_request($1, 'checked')", [a]],
  ]);
  assert.deepEqual(approved, { status: "approved", approved_by: "dpo@provider.example" });
  assert.match(
    (await staffError("select privacy.approve_request($1)", [a])).message,
    /only a verified/,
  );

  assert.equal((await staffError("select privacy.reject_request($1, '')", [b])).code, "22023");
  const [rejected] = await asPrivacyStaff<{ status: string; rejection_reason: string }>([
    [
      "select status, rejection_reason from privacy.reject_request($1, 'Manifestly excessive: the fourth identical request this month')",
      [b],
    ],
  ]);
  assert.equal(rejected.status, "rejected");
  assert.match(rejected.rejection_reason, /Manifestly excessive/);
  assert.match(
    (await staffError("select privacy.run_fulfilment($1)", [b])).message,
    /only an approved/,
  );

  assert.equal(
    (await staffError("select privacy.extend_deadline($1, 'complex', interval '3 months')", [a]))
      .code,
    "22023",
  );
  const [extended] = await asPrivacyStaff<{ days: number }>([
    [
      `select extract(day from extended_due_at - due_at)::int as days
         from privacy.extend_deadline($1, 'Data held in several archives; complex to collect')`,
      [a],
    ],
  ]);
  assert.ok(extended.days >= 59 && extended.days <= 62, `two months: ${extended.days} days`);
  assert.match(
    (await staffError("select privacy.extend_deadline($1, 'again')", [a])).message,
    /extended already/,
  );

  const [running] = await asPrivacyStaff<{ status: string }>([
    ["select status from privacy.run_fulfilment($1)", [a]],
  ]);
  assert.equal(running.status, "in_progress");

  const audit = await sql<{ action: string; actor: string; db_role: string }>(
    `select action, actor, details ->> 'db_role' as db_role from audit_log
      where target_id = any($1) and actor like 'staff:%' order by id`,
    [[a, b]],
  );
  assert.deepEqual(audit.map((r) => r.action), [
    "privacy.request.approved",
    "privacy.request.rejected",
    "privacy.deadline.extended",
    "privacy.fulfilment.started",
  ]);
  for (const r of audit) {
    assert.equal(r.actor, "staff:dpo@provider.example");
    assert.equal(r.db_role, "postgres", "and the database login it ran under");
  }

  // and the views show it, with the deadline and whether it is overdue
  const [open] = await asPrivacyStaff<{ status: string; extended: boolean; overdue: boolean }>([
    ["select status, extended, overdue from privacy.open_requests where id = $1", [a]],
  ]);
  assert.deepEqual(open, { status: "in_progress", extended: true, overdue: false });
  await sql(
    "update privacy_requests set due_at = now() - interval '40 days', extended_due_at = now() - interval '1 day' where id = $1",
    [a],
  );
  const overdue = await asPrivacyStaff<{ id: string }>([
    ["select id from privacy.overdue_requests where id = $1", [a]],
  ]);
  assert.equal(overdue.length, 1, "an open request past its deadline is surfaced");
});

Deno.test("a staff member signed in with a login role of their own is audited as that role", async () => {
  const role = `staff_${crypto.randomUUID().slice(0, 8)}`;
  await sql(`create role ${role} login password 'pw' in role privacy_staff`);
  const { clientId } = await createClientWithPhone("Own login client");
  const id = await verifiedRequest(clientId, "access");
  const url = new URL(testStack().adminDbUrl);
  url.username = role;
  url.password = "pw";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query("set role privacy_staff");
    await client.query("select privacy.approve_request($1)", [id]);
  } finally {
    await client.end();
    await sql(`drop owned by ${role}; drop role ${role}`);
  }
  const [row] = await sql<{ approved_by: string }>(
    "select approved_by from privacy_requests where id = $1",
    [id],
  );
  assert.equal(row.approved_by, role);
});

Deno.test("a legal hold stops a deletion until it is lifted, and a held contact cannot be deleted by anyone", async () => {
  const composed = await testApp();
  const { clientId, phoneId } = await createClientWithPhone("Held client");
  const waId = uniqueNumber();
  const [contact] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id) values ($1, $2) returning id",
    [clientId, waId],
  );
  await sql(
    "insert into messages (client_id, phone_number_id, contact_id, direction, type, status, recipient) values ($1, $2, $3, 'inbound', 'text', 'received', $4)",
    [clientId, phoneId, contact.id, waId],
  );
  const filed = await composed.deps.privacy.fileFromClient(
    { clientId, actor: "api_key:test" },
    {
      type: "deletion",
      subject: { phone: `+${waId}` },
      verification: { method: "client_attestation", attested_by: "jane" },
    },
  );
  const id = filed.request.id;
  const [hold] = await asPrivacyStaff<{ id: string; kind: string }>([
    [
      "select id, kind from privacy.place_legal_hold($1, 'Litigation hold: claim 2026/117', $2)",
      [clientId, contact.id],
    ],
  ]);
  assert.equal(hold.kind, "contact");
  await assert.rejects(
    sql("delete from contacts where id = $1", [contact.id]),
    /under a legal hold/,
    "not even the database owner deletes a held contact",
  );

  await asPrivacyStaff([
    ["select privacy.approve_request($1)", [id]],
    ["select privacy.run_fulfilment($1)", [id]],
  ]);
  await runDuePrivacyWork(composed);
  const [part] = await sql<{ status: string }>(
    "select status from privacy_request_parts where request_id = $1",
    [id],
  );
  assert.equal(part.status, "held");
  assert.equal(await countRows("messages", clientId), 1, "nothing erased while held");
  const [active] = await asPrivacyStaff<{ n: number }>([
    ["select count(*)::int as n from privacy.active_legal_holds where id = $1", [hold.id]],
  ]);
  assert.equal(active.n, 1);

  await asPrivacyStaff([["select privacy.lift_legal_hold($1, 'Claim settled')", [hold.id]]]);
  await runDuePrivacyWork(composed);
  const [after] = await sql<{ status: string; result: Record<string, number> }>(
    "select status, result from privacy_request_parts where request_id = $1",
    [id],
  );
  assert.equal(after.status, "done");
  assert.equal(after.result.messages, 1);
  assert.equal(await countRows("messages", clientId), 0);
  const [erasure] = await asPrivacyStaff<{ n: number }>([
    ["select count(*)::int as n from privacy.recent_erasures where request_id = $1", [id]],
  ]);
  assert.equal(erasure.n, 1);
  // the staff functions' entries name the staff member; retention's trigger records each change
  // of the row (the last: the erased contact's id cleared from the lifted hold)
  const holdAudit = await sql<{ action: string; actor: string }>(
    "select action, actor from audit_log where target_id = $1 order by id",
    [hold.id],
  );
  assert.deepEqual(holdAudit.map((r) => [r.action, r.actor]), [
    ["legal_holds.insert", "postgres"],
    ["privacy.legal_hold.placed", "staff:dpo@provider.example"],
    ["legal_holds.update", "postgres"],
    ["privacy.legal_hold.lifted", "staff:dpo@provider.example"],
    ["legal_holds.update", "postgres"],
  ]);
  const [seen] = await asPrivacyStaff<{ n: number }>([
    ["select count(*)::int as n from privacy.staff_actions where target_id = $1", [hold.id]],
  ]);
  assert.equal(seen.n, 5, "staff see the whole trail of the hold in privacy.staff_actions");
  composed.bell?.close();
});

/** Columns that hold message content, secrets or what unlocks them. */
const FORBIDDEN =
  /ciphertext|_hash$|secret|wrapped_key|payload|^key_hash$|^ip$|^user_agent$|^value$|^config$|^media$|^subject_request_ids$|^contact_ids$/;

Deno.test("privacy_staff can read no message content, no secret and nothing that unlocks them", async () => {
  const readable = await sql<{ col: string }>(
    `select format('%I.%I.%I', n.nspname, c.relname, a.attname) as col
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
        and c.relkind in ('r', 'p', 'v', 'm')
        and has_column_privilege('privacy_staff', c.oid, a.attnum, 'SELECT')
      order by 1`,
  );
  assert.ok(readable.some((r) => r.col === "public.messages.status"), "the check is live");
  assert.deepEqual(
    readable.map((r) => r.col).filter((c) => FORBIDDEN.test(c.split(".")[2])),
    [],
    "columns privacy_staff can read that hold content or secrets",
  );

  // and trying, as privacy_staff, fails at the grant, whatever RLS would say
  for (
    const statement of [
      "select content_ciphertext from messages limit 1",
      "select profile_name_ciphertext from contacts limit 1",
      "select wrapped_key from client_data_keys limit 1",
      "select access_token_ciphertext from whatsapp_business_accounts limit 1",
      "select secret_ciphertext from webhook_endpoints limit 1",
      "select payload_ciphertext from webhook_deliveries limit 1",
      "select payload_ciphertext from webhook_inbox limit 1",
      "select secrets_ciphertext from plugin_installations limit 1",
      "select key_hash from api_keys limit 1",
      "select code_hash from privacy_verification_codes limit 1",
      "select subject_ciphertext from privacy_requests limit 1",
      "select content_ciphertext from privacy_exports limit 1",
      "select ip from api_request_log limit 1",
      "select value from whatsapp_account_events limit 1",
      "update privacy_requests set status = 'completed'",
      "delete from audit_log",
      "insert into privacy.legal_holds (client_id, kind, reason, placed_by) values (gen_random_uuid(), 'client', 'xyz', 'me')",
    ]
  ) {
    const error = await staffError(statement, []);
    assert.equal(error.code, "42501", `${statement}: ${error.message}`);
  }
});
