import assert from "node:assert/strict";
import { createDataKey, parseKeyring } from "../../src/core/crypto/envelope.ts";
import type { SupabaseClient } from "@supabase/supabase-js";
import { clientWithToken, createTestClient, signJwt, sql, testStack } from "../_support/stack.ts";

/**
 * Every table in an API-exposed schema, read from the catalog, must appear here with a way to make
 * a row for a given client. A new table without RLS, or without an entry here, fails the suite.
 */
type Ctx = { clientId: string; uid: string; ids: Record<string, string> };
interface Fixture {
  /** column that names the owning client */
  tenant: string;
  /** inserts a row owned by ctx.clientId through SQL (superuser); returns its primary key */
  seed(ctx: Ctx): Promise<string>;
  /** a row for ctx.clientId as an API caller would send it */
  row(ctx: Ctx): Record<string, unknown>;
  /** a harmless change, to try on another client's row */
  change: Record<string, unknown>;
  key?: string;
}

const u = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);
const digits = () => String(Math.floor(Math.random() * 1e14));
const one = async (text: string, params: unknown[]) => String((await sql(text, params))[0].id);
const hex64 = () => (crypto.randomUUID() + crypto.randomUUID()).replaceAll("-", "");

export const FIXTURES: Record<string, Fixture> = {
  clients: {
    tenant: "id",
    seed: (ctx) => Promise.resolve(ctx.clientId),
    row: (ctx) => ({ id: ctx.clientId, name: "Hijacked" }),
    change: { name: "Hijacked" },
  },
  client_data_keys: {
    tenant: "client_id",
    key: "client_id",
    // a real wrapped key, so jobs that walk every data key (rotation) find only valid ones
    seed: async (ctx) => {
      const { stored } = await createDataKey(
        await parseKeyring(testStack().secrets.master_keys),
        ctx.clientId,
      );
      return await one(
        "insert into client_data_keys (client_id, wrapped_key, master_key_version) values ($1, $2, $3) returning client_id as id",
        [ctx.clientId, stored.wrapped, stored.masterKeyVersion],
      );
    },
    row: (ctx) => ({ client_id: ctx.clientId, wrapped_key: "a.b", master_key_version: "v1" }),
    change: { wrapped_key: "evil.key" },
  },
  whatsapp_business_accounts: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.waba = await one(
        "insert into whatsapp_business_accounts (client_id, waba_id, name) values ($1, $2, 'w') returning id",
        [ctx.clientId, digits()],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, waba_id: digits() }),
    change: { name: "Hijacked" },
  },
  phone_numbers: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.phone = await one(
        "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '1555') returning id",
        [ctx.clientId, ctx.ids.waba, digits()],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      waba_account_id: ctx.ids.waba,
      phone_number_id: digits(),
      display_phone_number: "1555",
    }),
    change: { verified_name: "Hijacked" },
  },
  api_keys: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into api_keys (client_id, name, environment, prefix, key_hash, scopes, created_by) values ($1, 'k', 'test', 'glf_test_x', $2, '{messages:read}', 't') returning id",
        [ctx.clientId, u() + u()],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      name: "k",
      environment: "test",
      prefix: "glf_test_y",
      key_hash: u() + u(),
      scopes: ["messages:send"],
      created_by: "attacker",
    }),
    change: { revoked_at: new Date().toISOString() },
  },
  audit_log: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into audit_log (client_id, actor, action) values ($1, 't', 'test.seeded') returning id",
        [
          ctx.clientId,
        ],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, actor: "attacker", action: "forged" }),
    change: { action: "tampered" },
  },
  api_request_log: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into api_request_log (client_id, request_id, method, route, status, latency_ms) values ($1, $2, 'GET', '/v1/me', 200, 1) returning id",
        [ctx.clientId, u()],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      request_id: u(),
      method: "GET",
      route: "/x",
      status: 200,
      latency_ms: 1,
    }),
    change: { status: 500 },
  },
  contacts: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.contact = await one(
        "insert into contacts (client_id, wa_id) values ($1, $2) returning id",
        [ctx.clientId, digits()],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, wa_id: digits() }),
    change: { consent_status: "opted_out" },
  },
  consent_events: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into consent_events (client_id, contact_id, status, source, actor) values ($1, $2, 'opted_in', 'test', 't') returning id",
        [ctx.clientId, ctx.ids.contact],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      contact_id: ctx.ids.contact,
      status: "opted_out",
      source: "forged",
      actor: "attacker",
    }),
    change: { status: "opted_out" },
  },
  messages: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.message = await one(
        "insert into messages (client_id, phone_number_id, contact_id, direction, type, status, wamid) values ($1, (select id from phone_numbers where client_id = $1 limit 1), $2, 'outbound', 'text', 'queued', $3) returning id",
        [ctx.clientId, ctx.ids.contact, `wamid.${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      phone_number_id: ctx.ids.phone,
      direction: "outbound",
      type: "text",
      status: "queued",
    }),
    change: { status: "failed" },
  },
  message_status_events: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into message_status_events (client_id, message_id, wamid, status, occurred_at) values ($1, $2, $3, 'sent', now()) returning id",
        [ctx.clientId, ctx.ids.message, `wamid.${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      wamid: `wamid.${u()}`,
      status: "read",
      occurred_at: new Date().toISOString(),
    }),
    change: { status: "failed" },
  },
  whatsapp_account_events: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into whatsapp_account_events (client_id, field, value) values ($1, 'account_update', '{}') returning id",
        [ctx.clientId],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, field: "forged", value: {} }),
    change: { field: "tampered" },
  },
  webhook_endpoints: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.endpoint = await one(
        "insert into webhook_endpoints (client_id, url, secret_ciphertext) values ($1, 'https://hooks.example.com/x', 'e1.a.b') returning id",
        [ctx.clientId],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      url: "https://attacker.example.com/steal",
      secret_ciphertext: "e1.a.b",
    }),
    change: { url: "https://attacker.example.com/steal" },
  },
  webhook_deliveries: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext) values ($1, $2, $3, 'message.received', 'e1.a.b') returning id",
        [ctx.clientId, ctx.ids.endpoint, `evt_${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      endpoint_id: ctx.ids.endpoint,
      event_id: `evt_${u()}`,
      event_type: "message.received",
      payload_ciphertext: "e1.a.b",
    }),
    change: { status: "cancelled" },
  },
  message_templates: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into message_templates (client_id, waba_account_id, meta_template_id, name, language, status) values ($1, $2, $3, $4, 'en_US', 'APPROVED') returning id",
        [ctx.clientId, ctx.ids.waba, digits(), `t_${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      waba_account_id: ctx.ids.waba,
      meta_template_id: digits(),
      name: `t_${u()}`,
      language: "en_US",
      status: "APPROVED",
    }),
    change: { status: "PAUSED" },
  },
  message_template_syncs: {
    tenant: "client_id",
    key: "waba_account_id",
    // on a second account of the client: its first stays free for rows the reference probe
    // makes (one sync row per account)
    seed: async (ctx) => {
      const account = await one(
        "insert into whatsapp_business_accounts (client_id, waba_id, name) values ($1, $2, 'w2') returning id",
        [ctx.clientId, digits()],
      );
      return await one(
        "insert into message_template_syncs (client_id, waba_account_id, last_synced_at) values ($1, $2, now()) returning waba_account_id as id",
        [ctx.clientId, account],
      );
    },
    row: (ctx) => ({
      client_id: ctx.clientId,
      waba_account_id: ctx.ids.waba,
      requested_at: new Date().toISOString(),
    }),
    change: { requested_at: new Date().toISOString() },
  },
  privacy_requests: {
    tenant: "filing_client_id",
    seed: async (ctx) =>
      ctx.ids.privacyRequest = await one(
        `insert into privacy_requests (reference_hash, reference_prefix, filing_client_id, type,
           channel, subject_kind, subject_hash, verification_method, verified_at, status,
           attested_by, attested_at, filed_by)
         values ($1, 'ABCD', $2, 'access', 'api', 'whatsapp', $1, 'client_attestation', now(),
           'verified', 'someone', now(), 'test') returning id`,
        [hex64(), ctx.clientId],
      ),
    row: (ctx) => ({
      reference_hash: hex64(),
      reference_prefix: "EVIL",
      filing_client_id: ctx.clientId,
      type: "deletion",
      channel: "api",
      subject_kind: "whatsapp",
      subject_hash: hex64(),
      verification_method: "client_attestation",
      attested_by: "attacker",
      attested_at: new Date().toISOString(),
      filed_by: "attacker",
    }),
    change: { status: "rejected", rejection_reason: "forged" },
  },
  privacy_request_parts: {
    tenant: "client_id",
    seed: async (ctx) =>
      ctx.ids.privacyPart = await one(
        "insert into privacy_request_parts (request_id, client_id) values ($1, $2) returning id",
        [ctx.ids.privacyRequest, ctx.clientId],
      ),
    row: (ctx) => ({ request_id: ctx.ids.privacyRequest, client_id: ctx.clientId }),
    change: { status: "done" },
  },
  privacy_exports: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        `insert into privacy_exports (request_id, client_id, part_id, content_ciphertext, bytes,
           expires_at) values ($1, $2, $3, 'e1.a.b', 3, now() + interval '1 hour') returning id`,
        [ctx.ids.privacyRequest, ctx.clientId, ctx.ids.privacyPart],
      ),
    row: (ctx) => ({
      request_id: ctx.ids.privacyRequest,
      client_id: ctx.clientId,
      part_id: ctx.ids.privacyPart,
      bytes: 1,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    }),
    change: { downloaded_at: new Date().toISOString() },
  },
  plugin_installations: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into plugin_installations (client_id, plugin_id, routing_key) values ($1, $2, $3) returning id",
        [ctx.clientId, `test-${u()}`, u()],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, plugin_id: `evil-${u()}`, routing_key: u() }),
    change: { enabled: false },
  },
  plugin_state: {
    tenant: "client_id",
    key: "key",
    seed: (ctx) =>
      one(
        "insert into plugin_state (client_id, plugin_id, key, value) values ($1, 'test-plugin', $2, '{}') returning key as id",
        [ctx.clientId, `k-${u()}`],
      ),
    row: (ctx) => ({ client_id: ctx.clientId, plugin_id: "evil-plugin", key: u(), value: {} }),
    change: { value: { tampered: true } },
  },
  plugin_deliveries: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into plugin_deliveries (client_id, plugin_id, event_type, payload_ciphertext) values ($1, 'test-plugin', 'message.received', 'e1.a.b') returning id",
        [ctx.clientId],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      plugin_id: "opt-out",
      event_type: "message.received",
      payload_ciphertext: "e1.a.b",
    }),
    change: { status: "succeeded" },
  },
  plugin_journal: {
    tenant: "client_id",
    key: "key",
    seed: (ctx) =>
      one(
        "insert into plugin_journal (client_id, plugin_id, key, kind, recipient) values ($1, 'test-plugin', $2, 'order_confirmation', '919847012345') returning key as id",
        [ctx.clientId, `k-${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      plugin_id: "evil-plugin",
      key: u(),
      kind: "forged",
    }),
    change: { outcome: "suppressed", reason: "tampered" },
  },
  plugin_privacy_requests: {
    tenant: "client_id",
    seed: (ctx) =>
      one(
        "insert into plugin_privacy_requests (client_id, plugin_id, kind, reference) values ($1, 'test-plugin', 'erasure', $2) returning id",
        [ctx.clientId, `ref-${u()}`],
      ),
    row: (ctx) => ({
      client_id: ctx.clientId,
      plugin_id: "evil-plugin",
      kind: "erase_all",
      reference: `forged-${u()}`,
    }),
    change: { status: "completed" },
  },
};

/**
 * Tables no API role may touch at all (system work through the service role only). For these the
 * matrix checks that a client JWT and anon can neither read, insert, update nor delete anything.
 */
export const SYSTEM_TABLES: Record<
  string,
  {
    seed(): Promise<string>;
    row: Record<string, unknown>;
    key?: string;
    change?: Record<string, unknown>;
  }
> = {
  webhook_inbox: {
    seed: () =>
      one(
        "insert into webhook_inbox (provider, dedupe_key, payload_ciphertext) values ('meta', $1, 'x') returning id",
        [u()],
      ),
    row: { provider: "meta", dedupe_key: "forged", payload_ciphertext: "x" },
  },
  privacy_verification_codes: {
    key: "request_id",
    seed: async () => {
      const request = await one(
        `insert into privacy_requests (reference_hash, reference_prefix, type, channel,
           subject_kind, subject_hash, verification_method, filed_by)
         values ($1, 'WXYZ', 'access', 'web', 'whatsapp', $1, 'whatsapp_code', 'subject')
         returning id`,
        [hex64()],
      );
      return await one(
        `insert into privacy_verification_codes (request_id, code_hash, expires_at)
         values ($1, $2, now() + interval '10 minutes') returning request_id as id`,
        [request, hex64()],
      );
    },
    row: { request_id: crypto.randomUUID(), code_hash: "0".repeat(64), expires_at: "2030-01-01" },
    change: { attempts: 0, code_hash: "f".repeat(64) },
  },
  unrouted_webhook_events: {
    seed: () =>
      one(
        "insert into unrouted_webhook_events (phone_number_id, kind) values ('1', 'message') returning id",
        [],
      ),
    row: { phone_number_id: "2", kind: "message" },
  },
};

const EXPOSED_SCHEMAS = ["public"];

async function exposedTables() {
  return await sql<{ name: string; rls: boolean; policies: number }>(
    `select c.relname as name, c.relrowsecurity as rls,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p')
      order by 1`,
    [EXPOSED_SCHEMAS],
  );
}

Deno.test("every table in an exposed schema has RLS enabled, policies and an RLS-matrix fixture", async () => {
  const tables = await exposedTables();
  assert.ok(tables.length >= Object.keys(FIXTURES).length, "the catalog lists the tenancy tables");
  const problems: string[] = [];
  for (const t of tables) {
    if (!t.rls) problems.push(`${t.name}: row-level security is not enabled`);
    if (t.policies === 0 && t.rls) {
      problems.push(`${t.name}: RLS is on but no policy lets anyone in`);
    }
    if (!FIXTURES[t.name] && !SYSTEM_TABLES[t.name]) {
      problems.push(`${t.name}: add a fixture to tests/supabase/rls_matrix_test.ts`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("a table created without RLS makes the catalog check fail", async () => {
  await sql("create table public.rls_probe_unprotected (id int primary key)");
  try {
    const probe = (await exposedTables()).find((t) => t.name === "rls_probe_unprotected");
    assert.equal(probe?.rls, false, "the check sees the unprotected table");
  } finally {
    await sql("drop table public.rls_probe_unprotected");
  }
});

/** Two clients, A and B, each with one seeded row in every fixture table (keys by table). */
async function seedTwoClients(fixtures: Record<string, Fixture> = FIXTURES) {
  const [a, b] = [await createTestClient("Client A"), await createTestClient("Client B")];
  const ctxA: Ctx = { clientId: a, uid: crypto.randomUUID(), ids: {} };
  const ctxB: Ctx = { clientId: b, uid: crypto.randomUUID(), ids: {} };
  const seededA: Record<string, string> = {};
  const seededB: Record<string, string> = {};
  for (const [name, f] of Object.entries(fixtures)) {
    seededA[name] = await f.seed(ctxA);
    seededB[name] = await f.seed(ctxB);
  }
  return { a, b, ctxA, ctxB, seededA, seededB };
}

Deno.test("client A's JWT can neither select, insert, update nor delete client B's rows; anon sees nothing", async (t) => {
  const { a, b, ctxA, ctxB, seededB } = await seedTwoClients();
  const asA = clientWithToken(await signJwt({ client_id: a, sub: ctxA.uid }));
  const anon = clientWithToken(null);
  const snapshot = async (name: string, f: Fixture) =>
    JSON.stringify(
      await sql(`select * from public.${name} where ${f.key ?? "id"}::text = $1`, [seededB[name]]),
    );

  for (const [name, f] of Object.entries(FIXTURES)) {
    await t.step(name, async () => {
      const before = await snapshot(name, f);
      assert.notEqual(before, "[]", `${name}: B's row exists`);

      const sel = await asA.from(name).select("*").eq(f.tenant, b);
      assert.deepEqual(sel.data ?? [], [], `${name}: A must not read B's rows`);

      const own = await asA.from(name).select(f.tenant).eq(f.tenant, a);
      const selectGranted = !own.error;
      if (selectGranted) {
        assert.ok((own.data ?? []).length > 0, `${name}: A reads its own rows (the check is live)`);
      }

      const ins = await asA.from(name).insert(f.row(ctxB)).select();
      assert.ok(ins.error, `${name}: A must not insert a row owned by B`);

      const upd = await asA.from(name).update(f.change).eq(f.tenant, b).select();
      assert.deepEqual(upd.data ?? [], [], `${name}: A must not update B's rows`);

      const del = await asA.from(name).delete().eq(f.tenant, b).select();
      assert.deepEqual(del.data ?? [], [], `${name}: A must not delete B's rows`);

      assert.equal(await snapshot(name, f), before, `${name}: B's row is unchanged`);

      const anonSel = await anon.from(name).select("*");
      assert.deepEqual(anonSel.data ?? [], [], `${name}: anon reads nothing`);
      const anonIns = await anon.from(name).insert(f.row(ctxB));
      assert.ok(anonIns.error, `${name}: anon cannot insert`);
    });
  }
});

/**
 * A foreign key between two tenant tables, read from the catalog. A tenant table is one with a
 * client_id column, or clients itself (whose tenant column is its id).
 */
interface TenantReference {
  name: string;
  table: string;
  refTable: string;
  /** each side's tenant column */
  tenant: string;
  refTenant: string;
  /** the key's column pairs, in key order */
  pairs: Array<{ column: string; refColumn: string; type: string }>;
}

async function tenantReferences(): Promise<TenantReference[]> {
  return await sql<TenantReference>(
    `with tenant as (
       select c.oid, c.relname,
              case when c.relname = 'clients' then 'id' else 'client_id' end as col
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p')
          and (c.relname = 'clients' or exists (select 1 from pg_attribute a
            where a.attrelid = c.oid and a.attname = 'client_id' and not a.attisdropped))
     )
     select k.conname as name, t.relname as "table", r.relname as "refTable", t.col as tenant,
            r.col as "refTenant",
            (select json_agg(json_build_object('column', a.attname, 'refColumn', b.attname,
                'type', format_type(a.atttypid, a.atttypmod)) order by p.ord)
               from unnest(k.conkey, k.confkey) with ordinality as p(col, refcol, ord)
               join pg_attribute a on a.attrelid = k.conrelid and a.attnum = p.col
               join pg_attribute b on b.attrelid = k.confrelid and b.attnum = p.refcol) as pairs
       from pg_constraint k
       join tenant t on t.oid = k.conrelid
       join tenant r on r.oid = k.confrelid
      where k.contype = 'f'
      order by t.relname, k.conname`,
    [EXPOSED_SCHEMAS],
  );
}

const isTenantPair = (ref: TenantReference, p: TenantReference["pairs"][number]) =>
  p.column === ref.tenant && p.refColumn === ref.refTenant;

/** The references whose key lets a row of one client point at a row of another. */
function unscopedReferences(refs: TenantReference[]): string[] {
  return refs.filter((r) => !r.pairs.some((p) => isTenantPair(r, p))).map((r) =>
    `${r.table}.${r.name}: (${r.pairs.map((p) => p.column).join(", ")}) references ` +
    `${r.refTable} (${r.pairs.map((p) => p.refColumn).join(", ")}) without the tenant: make it ` +
    `(${r.tenant}, ...) references ${r.refTable} (${r.refTenant}, ...)`
  );
}

/** A value of a column of this type that no row holds, or null for a type not taught yet. */
function missingValue(type: string): string | null {
  if (type === "uuid") return crypto.randomUUID();
  if (type === "integer" || type === "bigint") {
    return String(2_000_000_000 + Math.floor(Math.random() * 1e8));
  }
  if (type === "text") return `missing-${u()}`;
  return null;
}

type Attempt = {
  status: number;
  error: { code: string; message: string; details: string | null; hint: string | null } | null;
};

/** What PostgREST answered, with the values the caller chose replaced, so answers compare. */
function answerOf(res: Attempt, values: string[]): string {
  const e = res.error;
  let text = JSON.stringify([res.status, e?.code, e?.message, e?.details, e?.hint]);
  for (const v of values) text = text.replaceAll(v, "<reference>");
  return text;
}

type Side = { ctx: Ctx; seeded: Record<string, string> };

/**
 * Tries, as client A through PostgREST, to make a row of `ref.table` point at B's row of
 * `ref.refTable` (an insert, and an update of A's own row), then the same with values no row
 * holds. Returns what went wrong: a reference to B's row accepted, or refused with another answer
 * than a missing row gets (which would tell A that B's row exists).
 */
async function crossTenantReferenceProblems(
  asA: SupabaseClient,
  ref: TenantReference,
  fixtures: Record<string, Fixture>,
  [a, b]: [Side, Side],
): Promise<string[]> {
  const where = `${ref.table}.${ref.name}`;
  const fixture = fixtures[ref.table];
  const target = fixtures[ref.refTable];
  if (!fixture || !target) return [`${where}: no fixture for ${ref.table} or ${ref.refTable}`];
  const pairs = ref.pairs.filter((p) => !isTenantPair(ref, p));
  const refValues = async (side: Side) => {
    const [row] = await sql<Record<string, string>>(
      `select ${pairs.map((p, i) => `"${p.refColumn}"::text as c${i}`).join(", ")}
         from public.${ref.refTable} where ${target.key ?? "id"}::text = $1`,
      [side.seeded[ref.refTable]],
    );
    return Object.fromEntries(pairs.map((p, i) => [p.column, row[`c${i}`]]));
  };
  const own = await refValues(a);
  const theirs = await refValues(b);
  const missing: Record<string, string> = {};
  for (const p of pairs) {
    const value = missingValue(p.type);
    if (value === null) return [`${where}: teach missingValue() the type ${p.type}`];
    missing[p.column] = value;
  }
  const [granted] = await sql<{ insert: boolean; update: boolean }>(
    `select bool_and(has_column_privilege('authenticated', a.attrelid, a.attname, 'INSERT'))
              filter (where a.attname = any($2)) as insert,
            bool_and(has_column_privilege('authenticated', a.attrelid, a.attname, 'UPDATE'))
              filter (where a.attname = any($3)) as update
       from pg_attribute a
      where a.attrelid = ('public.' || $1)::regclass and a.attnum > 0 and not a.attisdropped`,
    [ref.table, Object.keys({ ...fixture.row(a.ctx), ...own }), Object.keys(own)],
  );

  const problems: string[] = [];
  const attempts = {
    insert: (refs: Record<string, string>) =>
      asA.from(ref.table).insert({ ...fixture.row(a.ctx), ...refs }),
    update: (refs: Record<string, string>) =>
      asA.from(ref.table).update(refs).eq(fixture.key ?? "id", a.seeded[ref.table]),
  };
  for (const verb of ["insert", "update"] as const) {
    const run = attempts[verb];
    if (granted[verb]) {
      const control = await run(own);
      if (control.error) {
        problems.push(
          `${where}: A's ${verb} referencing its own ${ref.refTable} row failed, so this probe ` +
            `proves nothing (${control.error.message})`,
        );
      }
    }
    const toTheirs: Attempt = await run(theirs);
    const toMissing: Attempt = await run(missing);
    const [answerTheirs, answerMissing] = [
      answerOf(toTheirs, Object.values(theirs)),
      answerOf(toMissing, Object.values(missing)),
    ];
    if (!toTheirs.error) {
      problems.push(`${where}: A's ${verb} referencing B's ${ref.refTable} row was accepted`);
    } else if (answerTheirs !== answerMissing) {
      problems.push(
        `${where}: A's ${verb} referencing B's ${ref.refTable} row is refused with ` +
          `${answerTheirs}, one referencing no row with ${answerMissing}`,
      );
    }
  }
  const [{ n }] = await sql<{ n: number }>(
    `select count(*)::int as n from public.${ref.table} where "${ref.tenant}" = $1 and ${
      pairs.map((p, i) => `"${p.column}"::text = $${i + 2}`).join(" and ")
    }`,
    [a.ctx.clientId, ...Object.values(theirs)],
  );
  if (n > 0) problems.push(`${where}: ${n} row(s) of A reference B's ${ref.refTable} row`);
  return problems;
}

Deno.test("every foreign key between tenant tables has the tenant column in its key", async () => {
  const refs = await tenantReferences();
  assert.ok(
    refs.some((r) => r.refTable !== "clients"),
    "the catalog lists references between tenant tables",
  );
  assert.deepEqual(unscopedReferences(refs), []);
});

Deno.test("client A cannot make its rows reference client B's rows, and learns nothing from trying", async (t) => {
  const refs = (await tenantReferences()).filter((r) => r.pairs.some((p) => !isTenantPair(r, p)));
  assert.ok(refs.length > 0, "the catalog lists references between tenant tables");
  const { a, ctxA, ctxB, seededA, seededB } = await seedTwoClients();
  const asA = clientWithToken(await signJwt({ client_id: a, sub: ctxA.uid }));
  const sides: [Side, Side] = [{ ctx: ctxA, seeded: seededA }, { ctx: ctxB, seeded: seededB }];
  for (const ref of refs) {
    await t.step(`${ref.table}.${ref.name}`, async () => {
      assert.deepEqual(await crossTenantReferenceProblems(asA, ref, FIXTURES, sides), []);
    });
  }
});

Deno.test("a tenant foreign key without client_id in its key fails both reference checks", async () => {
  await sql(`
    create table public.rls_probe_reference (
      id uuid primary key default gen_random_uuid(),
      client_id uuid not null references public.clients (id) on delete cascade,
      contact_id uuid references public.contacts (id) on delete cascade
    );
    alter table public.rls_probe_reference enable row level security;
    grant select, insert, update on public.rls_probe_reference to authenticated;
    create policy probe_select on public.rls_probe_reference for select to authenticated
      using (client_id = (select private.current_client_id()));
    create policy probe_insert on public.rls_probe_reference for insert to authenticated
      with check (client_id = (select private.current_client_id()));
    create policy probe_update on public.rls_probe_reference for update to authenticated
      using (client_id = (select private.current_client_id()))
      with check (client_id = (select private.current_client_id()));
    notify pgrst, 'reload schema';`);
  try {
    const fixtures: Record<string, Fixture> = {
      contacts: FIXTURES.contacts,
      rls_probe_reference: {
        tenant: "client_id",
        seed: (ctx) =>
          one(
            "insert into rls_probe_reference (client_id, contact_id) values ($1, $2) returning id",
            [ctx.clientId, ctx.ids.contact],
          ),
        row: (ctx) => ({ client_id: ctx.clientId, contact_id: ctx.ids.contact }),
        change: {},
      },
    };
    const { a, ctxA, ctxB, seededA, seededB } = await seedTwoClients(fixtures);
    const asA = clientWithToken(await signJwt({ client_id: a, sub: ctxA.uid }));
    await untilPostgrestSees(asA, "rls_probe_reference");

    const probe = (await tenantReferences()).find((r) =>
      r.table === "rls_probe_reference" && r.refTable === "contacts"
    );
    assert.ok(probe, "the catalog lists the probe's reference");
    assert.equal(unscopedReferences([probe]).length, 1, "the catalog check names it");
    const problems = await crossTenantReferenceProblems(asA, probe, fixtures, [
      { ctx: ctxA, seeded: seededA },
      { ctx: ctxB, seeded: seededB },
    ]);
    assert.ok(problems.some((p) => p.includes("insert referencing B's contacts row was accepted")));
    assert.ok(problems.some((p) => p.includes("update referencing B's contacts row was accepted")));
  } finally {
    await sql("drop table public.rls_probe_reference; notify pgrst, 'reload schema';");
  }
});

/** Waits until PostgREST's schema cache has the table (a reload is asynchronous). */
async function untilPostgrestSees(client: SupabaseClient, table: string) {
  const deadline = Date.now() + 10_000;
  while ((await client.from(table).select("*").limit(0)).error) {
    assert.ok(Date.now() < deadline, `PostgREST sees ${table}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("no API role may update or delete audit records", async () => {
  const rows = await sql<{ role: string; privilege: string }>(
    `select grantee as role, privilege_type as privilege from information_schema.role_table_grants
      where table_schema = 'public' and table_name = 'audit_log'
        and privilege_type in ('UPDATE', 'DELETE', 'TRUNCATE')
        and grantee in ('anon', 'authenticated', 'service_role', 'privacy_staff')`,
  );
  assert.deepEqual(rows, []);
});

Deno.test("system tables are closed to client JWTs and anon", async (t) => {
  const a = await createTestClient("System probe");
  const asA = clientWithToken(await signJwt({ client_id: a }));
  const anon = clientWithToken(null);
  for (const [name, f] of Object.entries(SYSTEM_TABLES)) {
    await t.step(name, async () => {
      const id = await f.seed();
      const key = f.key ?? "id";
      const select = `select * from public.${name} where ${key}::text = $1`;
      const before = JSON.stringify(await sql(select, [id]));
      for (const who of [asA, anon]) {
        const sel = await who.from(name).select("*");
        assert.deepEqual(sel.data ?? [], [], `${name}: nothing readable`);
        assert.ok((await who.from(name).insert(f.row)).error, `${name}: insert refused`);
        const upd = await who.from(name).update(f.change ?? { id: -1 }).eq(key, id).select();
        assert.deepEqual(upd.data ?? [], []);
        const del = await who.from(name).delete().eq(key, id).select();
        assert.deepEqual(del.data ?? [], []);
      }
      assert.equal(JSON.stringify(await sql(select, [id])), before);
    });
  }
});
