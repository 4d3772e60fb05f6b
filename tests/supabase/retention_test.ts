import assert from "node:assert/strict";
import { join } from "node:path";
import pg from "pg";
import { ROOT } from "../../tools/stack/mod.ts";
import { createClientWithPhone, createTestClient, sql, testStack } from "../_support/stack.ts";

/**
 * Retention through the real migrations (supabase/migrations/20261202001200_retention.sql): data
 * classes, per-client policies, legal holds, batches and the record of runs. Every test makes its
 * own clients and asserts on their rows only; a drain purges every client's expired data.
 */

/** Runs retention of every class to the end, as pg_cron's job does (with force: starts now). */
const drain = () => sql("call private.run_retention('manual', 5000, interval '5 minutes', true)");

type Client = Awaited<ReturnType<typeof createClientWithPhone>>;
const digits = () => String(4470000000000 + Math.floor(Math.random() * 9e9));

async function contact(
  c: Client,
  options: { days?: number; consent?: string; waId?: string } = {},
): Promise<{ id: string; waId: string }> {
  const waId = options.waId ?? digits();
  const [row] = await sql<{ id: string }>(
    `insert into contacts (client_id, wa_id, consent_status, created_at, updated_at)
     values ($1, $2, $3, now() - make_interval(days => $4), now() - make_interval(days => $4))
     returning id`,
    [c.clientId, waId, options.consent ?? "unknown", options.days ?? 0],
  );
  return { id: row.id, waId };
}

async function message(
  c: Client,
  days: number,
  options: { status?: string; to?: { id: string; waId: string } } = {},
): Promise<string> {
  const [row] = await sql<{ id: string }>(
    `insert into messages (client_id, phone_number_id, contact_id, recipient, direction, type,
       status, wamid, created_at)
     values ($1, $2, $3, $4, 'outbound', 'text', $5, 'wamid.' || gen_random_uuid(),
       now() - make_interval(days => $6))
     returning id`,
    [
      c.clientId,
      c.phoneId,
      options.to?.id ?? null,
      options.to?.waId ?? null,
      options.status ?? "delivered",
      days,
    ],
  );
  return row.id;
}

async function statusEvent(c: Client, messageId: string | null, days: number): Promise<string> {
  const [row] = await sql<{ id: string }>(
    `insert into message_status_events (client_id, message_id, wamid, status, occurred_at, received_at)
     values ($1, $2, 'wamid.' || gen_random_uuid(), 'delivered', now() - make_interval(days => $3),
       now() - make_interval(days => $3))
     returning id`,
    [c.clientId, messageId, days],
  );
  return String(row.id);
}

async function existing(table: string, ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }>(
    `select id::text as id from ${table} where id::text = any($1::text[])`,
    [ids],
  );
  return rows.map((r) => r.id).sort();
}

/** A session of our own, for what must hold a lock or act as a role across statements. */
async function session(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: testStack().adminDbUrl });
  await client.connect();
  return client;
}

Deno.test("every data class has a documented default within its bounds, the same in docs/retention.md as in the database", async () => {
  const classes = await sql<{
    data_class: string;
    default_days: number;
    min_days: number;
    max_days: number;
    per_client: boolean;
    purge_function: string | null;
    signature_ok: boolean | null;
    commented: boolean | null;
  }>(
    `select k.data_class, extract(day from k.default_keep)::int as default_days,
       extract(day from k.minimum_keep)::int as min_days,
       extract(day from k.maximum_keep)::int as max_days, k.per_client, k.purge_function,
       (select pg_get_function_result(p.oid) = 'TABLE(client_id uuid, deleted bigint)'
               and pg_get_function_identity_arguments(p.oid) = 'max_rows integer'
          from pg_proc p where p.oid = to_regprocedure(k.purge_function)) as signature_ok,
       (select obj_description(p.oid, 'pg_proc') is not null
          from pg_proc p where p.oid = to_regprocedure(k.purge_function)) as commented
     from privacy.retention_classes k order by k.data_class`,
  );
  const doc = await Deno.readTextFile(join(ROOT, "docs", "retention.md"));
  const documented = new Map<string, { text: string; cells: string[] }>();
  for (const line of doc.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z_]+)`$/.exec(cells[1] ?? "")?.[1];
    if (name && cells.length >= 6) documented.set(name, { text: line, cells });
  }
  assert.deepEqual(
    [...documented.keys()].sort(),
    classes.map((k) => k.data_class),
    "docs/retention.md lists exactly the classes of privacy.retention_classes",
  );
  for (const k of classes) {
    const { cells, text } = documented.get(k.data_class)!;
    assert.ok(k.min_days <= k.default_days && k.default_days <= k.max_days, k.data_class);
    assert.equal(cells[3], `${k.default_days} days`, `default of ${k.data_class}: ${text}`);
    const bounds = `${k.min_days}–${k.max_days}`;
    assert.equal(
      cells[4],
      k.per_client ? `${bounds} days` : `platform: ${bounds}`,
      `bounds of ${k.data_class}: ${text}`,
    );
    if (k.purge_function !== null) {
      assert.equal(k.signature_ok, true, `${k.purge_function} exists with the purge signature`);
      assert.equal(k.commented, true, `${k.purge_function} has a comment for Studio`);
    }
  }
  // every class has its purge (exports and request proofs: the data-subject request workflow's)
  assert.deepEqual(classes.filter((k) => k.purge_function === null).map((k) => k.data_class), []);
});

Deno.test("every table, column, view and routine of the privacy schema and every retention routine has a comment for Studio", async () => {
  const missing = await sql<{ what: string }>(
    `select 'table ' || c.relname as what from pg_class c
      where c.relnamespace = 'privacy'::regnamespace and c.relkind in ('r', 'v')
        and obj_description(c.oid, 'pg_class') is null
     union all
     select 'column ' || c.relname || '.' || a.attname from pg_class c
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.relnamespace = 'privacy'::regnamespace and c.relkind in ('r', 'v')
        and col_description(c.oid, a.attnum) is null
     union all
     select 'routine ' || p.oid::regprocedure::text from pg_proc p
      where (p.pronamespace = 'privacy'::regnamespace
          or p.pronamespace = 'private'::regnamespace and (p.proname ~ '^(purge|retention|run|schedule)_'
            or p.proname in ('run_retention', 'check_retention_policy', 'audit_retention_change'))
          or p.oid = 'public.run_retention(integer, integer, boolean)'::regprocedure)
        and obj_description(p.oid, 'pg_proc') is null
     union all
     select 'schema privacy' where obj_description('privacy'::regnamespace, 'pg_namespace') is null`,
  );
  assert.deepEqual(missing, []);
});

Deno.test("messages older than their client's policy are purged with their status events, the default applies without one, and queued messages stay", async () => {
  const short = await createClientWithPhone("Short retention");
  const usual = await createClientWithPhone("Default retention");
  await sql(
    `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
     values ($1, 'messages', interval '10 days', 'the client keeps no history')`,
    [short.clientId],
  );
  const shortOld = await message(short, 20);
  const shortNew = await message(short, 5);
  const shortQueued = await message(short, 40, { status: "queued" });
  const usualOld = await message(usual, 20);
  const usualExpired = await message(usual, 100);
  const events = [await statusEvent(short, shortOld, 1), await statusEvent(usual, usualOld, 1)];

  await drain();

  assert.deepEqual(
    await existing("messages", [shortOld, shortNew, shortQueued, usualOld, usualExpired]),
    [shortNew, shortQueued, usualOld].sort(),
  );
  assert.deepEqual(
    await existing("message_status_events", events),
    [events[1]],
    "a purged message's status events go with it",
  );
});

Deno.test("a legal hold on a client keeps everything of it until the hold is lifted", async () => {
  const c = await createClientWithPhone("Held client");
  const old = await message(c, 400);
  const [delivery] = await sql<{ id: string }>(
    `with e as (insert into webhook_endpoints (client_id, url, secret_ciphertext)
                values ($1, 'https://example.com/h', 'ct') returning id)
     insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, status, created_at)
     select $1, e.id, 'evt_held', 'message.status', 'succeeded', now() - interval '400 days' from e
     returning id`,
    [c.clientId],
  );
  const [audit] = await sql<{ id: string }>(
    `insert into audit_log (client_id, actor, action, created_at)
     values ($1, 'test', 'test.old', now() - interval '4000 days') returning id`,
    [c.clientId],
  );
  const [hold] = await sql<{ id: string }>(
    `insert into privacy.legal_holds (client_id, reason) values ($1, 'litigation') returning id`,
    [c.clientId],
  );
  await drain();
  assert.deepEqual(await existing("messages", [old]), [old]);
  assert.deepEqual(await existing("webhook_deliveries", [delivery.id]), [delivery.id]);
  assert.deepEqual(await existing("audit_log", [String(audit.id)]), [String(audit.id)]);

  await sql("update privacy.legal_holds set lifted_at = now() where id = $1", [hold.id]);
  await drain();
  assert.deepEqual(await existing("messages", [old]), []);
  assert.deepEqual(await existing("webhook_deliveries", [delivery.id]), []);
  assert.deepEqual(await existing("audit_log", [String(audit.id)]), []);
});

Deno.test("a legal hold on one data subject keeps that subject's messages, status events and contact, and the client's webhook deliveries, while the rest is purged", async () => {
  const c = await createClientWithPhone("Subject held");
  const held = await contact(c, { days: 500 });
  const other = await contact(c, { days: 500 });
  const heldMessage = await message(c, 100, { to: held });
  const otherMessage = await message(c, 100, { to: other });
  // a status event received long ago, of a message that is still in its period
  const heldRecent = await message(c, 1, { to: held });
  const heldEvent = await statusEvent(c, heldRecent, 100);
  const otherEvent = await statusEvent(c, await message(c, 1, { to: other }), 100);
  const [delivery] = await sql<{ id: string }>(
    `with e as (insert into webhook_endpoints (client_id, url, secret_ciphertext)
                values ($1, 'https://example.com/h', 'ct') returning id)
     insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, status, created_at)
     select $1, e.id, 'evt_subject', 'message.status', 'succeeded', now() - interval '40 days' from e
     returning id`,
    [c.clientId],
  );
  const [log] = await sql<{ id: string }>(
    `insert into api_request_log (client_id, request_id, method, route, status, latency_ms, created_at)
     values ($1, 'req', 'GET', '/v1/me', 200, 1, now() - interval '400 days') returning id`,
    [c.clientId],
  );
  await sql(
    `insert into privacy.legal_holds (client_id, subject_ref, reason) values ($1, $2, 'claim')`,
    [c.clientId, held.waId],
  );
  await drain();

  assert.deepEqual(await existing("messages", [heldMessage, otherMessage]), [heldMessage]);
  assert.deepEqual(await existing("message_status_events", [heldEvent, otherEvent]), [heldEvent]);
  assert.deepEqual(await existing("contacts", [held.id]), [held.id]);
  assert.deepEqual(
    await existing("webhook_deliveries", [delivery.id]),
    [delivery.id],
    "deliveries cannot be told apart by subject: the client's are all kept",
  );
  assert.deepEqual(
    await existing("api_request_log", [String(log.id)]),
    [],
    "the request log holds nothing about data subjects",
  );
});

Deno.test("contacts are purged after a year without activity unless they opted out or still have a message", async () => {
  const c = await createClientWithPhone("Contacts");
  const quiet = await contact(c, { days: 400 });
  const optedOut = await contact(c, { days: 400, consent: "opted_out" });
  const withMessage = await contact(c, { days: 400 });
  await message(c, 10, { to: withMessage });
  const recentlyActive = await contact(c, { days: 400 });
  await sql("update contacts set last_inbound_at = now() - interval '10 days' where id = $1", [
    recentlyActive.id,
  ]);
  const young = await contact(c, { days: 10 });
  const consentEvent = await sql<{ id: string }>(
    `insert into consent_events (client_id, contact_id, status, source, actor, created_at)
     values ($1, $2, 'opted_in', 'test', 'test', now() - interval '400 days') returning id`,
    [c.clientId, quiet.id],
  );

  await drain();

  const ids = [quiet, optedOut, withMessage, recentlyActive, young].map((x) => x.id);
  assert.deepEqual(
    await existing("contacts", ids),
    [optedOut.id, withMessage.id, recentlyActive.id, young.id].sort(),
  );
  assert.deepEqual(await existing("consent_events", [String(consentEvent[0].id)]), []);
});

Deno.test("status events are purged by the time they were received, per client policy, those of no message too", async () => {
  const a = await createClientWithPhone("Events A");
  const b = await createClientWithPhone("Events B");
  await sql(
    `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
     values ($1, 'status_events', interval '7 days', 'receipts are not kept')`,
    [a.clientId],
  );
  const live = await message(a, 1);
  const aOld = await statusEvent(a, live, 8);
  const aNew = await statusEvent(a, live, 6);
  const aOrphan = await statusEvent(a, null, 8);
  const bOld = await statusEvent(b, await message(b, 1), 8);
  await drain();
  assert.deepEqual(
    await existing("message_status_events", [aOld, aNew, aOrphan, bOld]),
    [aNew, bOld].sort(),
  );
  assert.deepEqual(await existing("messages", [live]), [live], "the message itself stays");
});

Deno.test("a request's IP address and user agent are erased after 30 days and its log row after a year, for requests of no client too", async () => {
  const clientId = await createTestClient("Request log");
  const rows = await sql<{ id: string; name: string }>(
    `insert into api_request_log (client_id, request_id, method, route, status, latency_ms, ip,
       user_agent, created_at)
     select case when x.own then $1::uuid end, x.name, 'GET', '/v1/me', 200, 1, '203.0.113.9',
       'curl/8', now() - make_interval(days => x.days)
       from (values ('own-10', true, 10), ('own-40', true, 40), ('own-400', true, 400),
                    ('none-10', false, 10), ('none-40', false, 40), ('none-400', false, 400))
            as x(name, own, days)
     returning id, request_id as name`,
    [clientId],
  );
  await drain();
  const left = await sql<{ name: string; ip: string | null; user_agent: string | null }>(
    "select request_id as name, ip::text, user_agent from api_request_log where id = any($1) order by request_id",
    [rows.map((r) => r.id)],
  );
  assert.deepEqual(left, [
    { name: "none-10", ip: "203.0.113.9/32", user_agent: "curl/8" },
    { name: "none-40", ip: null, user_agent: null },
    { name: "own-10", ip: "203.0.113.9/32", user_agent: "curl/8" },
    { name: "own-40", ip: null, user_agent: null },
  ]);
});

Deno.test("the audit log is kept two years, entries of no client too", async () => {
  const clientId = await createTestClient("Audit");
  const rows = await sql<{ id: string; action: string }>(
    `insert into audit_log (client_id, actor, action, created_at)
     select case when x.own then $1::uuid end, 'test', x.name, now() - make_interval(days => x.days)
       from (values ('own-700', true, 700), ('own-800', true, 800),
                    ('none-700', false, 700), ('none-800', false, 800)) as x(name, own, days)
     returning id, action`,
    [clientId],
  );
  await drain();
  const left = await sql<{ action: string }>(
    "select action from audit_log where id = any($1) order by action",
    [rows.map((r) => r.id)],
  );
  assert.deepEqual(left.map((r) => r.action), ["none-700", "own-700"]);
});

Deno.test("a client policy outside its class's bounds or for a platform-wide class is refused, and every change is audited with who made it", async () => {
  const clientId = await createTestClient("Policies");
  const set = (dataClass: string, keep: string) =>
    sql(
      `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
       values ($1, $2, $3::interval, 'test')
       on conflict (client_id, data_class) do update set keep_for = excluded.keep_for`,
      [clientId, dataClass, keep],
    );
  await assert.rejects(set("request_logs", "30 days"), /between 365 days and 1095 days/);
  await assert.rejects(set("messages", "4000 days"), /between 1 day and 3650 days/);
  await assert.rejects(set("raw_webhook_payloads", "10 days"), /whole platform/);
  await set("messages", "365 days");
  await set("messages", "30 days");
  await sql("delete from privacy.retention_policies where client_id = $1", [clientId]);
  const audit = await sql<{ actor: string; action: string; target_id: string; keep: string }>(
    `select actor, action, target_id,
       coalesce(details -> 'after' ->> 'keep_for', details -> 'before' ->> 'keep_for') as keep
     from audit_log where client_id = $1 and target_type = 'privacy.retention_policies' order by id`,
    [clientId],
  );
  assert.deepEqual(audit, [
    {
      actor: "postgres",
      action: "retention_policies.insert",
      target_id: "messages",
      keep: "365 days",
    },
    {
      actor: "postgres",
      action: "retention_policies.update",
      target_id: "messages",
      keep: "30 days",
    },
    {
      actor: "postgres",
      action: "retention_policies.delete",
      target_id: "messages",
      keep: "30 days",
    },
  ]);
});

Deno.test("every run is recorded with its class, source, rows, batches, duration and rows per client, and runs again only when due unless forced", async () => {
  const c = await createClientWithPhone("Runs");
  const ids = await Promise.all(Array.from({ length: 5 }, () => message(c, 200)));
  const before = Number(
    (await sql<{ id: string }>(
      "select coalesce(max(id), 0) as id from privacy.retention_runs",
    ))[0].id,
  );
  // batches of 2: the run of messages takes at least 3 of them, committed one by one
  await sql("call private.run_retention('manual', 2, interval '5 minutes', true)");
  assert.deepEqual(await existing("messages", ids), []);
  const runs = await sql<{
    data_class: string;
    source: string;
    row_count: string;
    batches: number;
    busy: boolean;
    finished: boolean;
    mine: string | null;
    error: string | null;
  }>(
    `select data_class, source, row_count, batches, duration > interval '0' as busy,
       finished_at is not null as finished, by_client ->> $2 as mine, error
     from privacy.retention_runs where id > $1 order by data_class`,
    [before, c.clientId],
  );
  const classes = await sql<{ data_class: string }>(
    "select data_class from privacy.retention_classes where purge_function is not null order by 1",
  );
  assert.deepEqual(runs.map((r) => r.data_class), classes.map((k) => k.data_class));
  assert.ok(runs.every((r) => r.source === "manual" && r.finished && r.error === null && r.busy));
  const messages = runs.find((r) => r.data_class === "messages")!;
  assert.equal(messages.mine, "5");
  assert.ok(Number(messages.row_count) >= 5 && messages.batches >= 3, JSON.stringify(messages));

  // nothing is due again for an hour at least: a pass that is not forced starts no run
  const [{ pass }] = await sql<{ pass: unknown[] }>(
    "select public.run_retention(5000, 60000, false) as pass",
  );
  assert.deepEqual(pass, []);
  const [{ forced }] = await sql<{ forced: Array<{ data_class: string }> }>(
    "select public.run_retention(5000, 60000, true) as forced",
  );
  assert.deepEqual(forced.map((b) => b.data_class).sort(), classes.map((k) => k.data_class));
});

Deno.test("a purge skips rows another transaction holds instead of waiting for them", async () => {
  const c = await createClientWithPhone("Locked rows");
  const locked = await message(c, 200);
  const free = await message(c, 200);
  const holder = await session();
  try {
    await holder.query("begin");
    await holder.query("select 1 from messages where id = $1 for update", [locked]);
    const purger = await session();
    try {
      // it would wait for the lock, and fail here, if it did not skip the row
      await purger.query("set lock_timeout = '2s'");
      await purger.query("select * from private.purge_messages(100000)");
    } finally {
      await purger.end();
    }
    await holder.query("commit");
  } finally {
    await holder.end();
  }
  assert.deepEqual(await existing("messages", [locked, free]), [locked]);
  await drain();
  assert.deepEqual(await existing("messages", [locked]), []);
});

Deno.test("a batch of the messages purge takes expired rows in the table's order across clients, not one client's rows at a time", async () => {
  await drain();
  const clients = await Promise.all(
    ["Order A", "Order B", "Order C"].map((name) => createClientWithPhone(name)),
  );
  // four rounds of the three clients, oldest first, as a busy database receives them
  const rows = await sql<{ id: string; client_id: string }>(
    `insert into messages (client_id, phone_number_id, direction, type, status, wamid, created_at)
     select c.client_id, c.phone_id, 'inbound', 'text', 'received', 'wamid.' || gen_random_uuid(),
       now() - interval '300 days' + make_interval(mins => g * 3 + c.k::int)
       from generate_series(0, 3) g
       cross join unnest($1::uuid[], $2::uuid[]) with ordinality as c(client_id, phone_id, k)
      order by g, c.k
     returning id::text, client_id::text`,
    [clients.map((c) => c.clientId), clients.map((c) => c.phoneId)],
  );
  const inOrder = await sql<{ id: string; client_id: string }>(
    "select id::text, client_id::text from messages where id::text = any($1::text[]) order by ctid",
    [rows.map((r) => r.id)],
  );
  const [{ deleted }] = await sql<{ deleted: string }>(
    "select coalesce(sum(deleted), 0)::text as deleted from private.purge_messages(6)",
  );
  assert.equal(deleted, "6");
  // the first six rows of the table are gone, whichever clients they belong to
  assert.deepEqual(
    await existing("messages", rows.map((r) => r.id)),
    inOrder.slice(6).map((r) => r.id).sort(),
  );
  assert.ok(new Set(inOrder.slice(0, 6).map((r) => r.client_id)).size > 2);
});

Deno.test("a pass started while another holds the lock runs nothing", async () => {
  const holder = await session();
  try {
    await holder.query("begin");
    await holder.query("select pg_advisory_xact_lock(hashtext('glooft-edge retention'))");
    const [{ pass }] = await sql<{ pass: unknown }>(
      "select public.run_retention(5000, 60000, true) as pass",
    );
    assert.deepEqual(pass, { skipped: "another retention pass is running" });
    await sql("call private.run_retention('manual', 5000, interval '10 seconds', true)");
    await holder.query("commit");
  } finally {
    await holder.end();
  }
});

Deno.test("a class whose purge fails is recorded with its error on its run, and the other classes still run", async () => {
  await sql(
    `insert into privacy.retention_classes (data_class, description, default_keep, minimum_keep,
       maximum_keep, per_client, subject_hold, run_every, purge_function, basis)
     values ('broken_test', 'test', '1 day', '1 day', '1 day', false, 'none', '1 hour',
       'private.no_such_purge(integer)', 'test')`,
  );
  try {
    const [{ pass }] = await sql<
      { pass: Array<{ data_class: string; error: string | null; finished: boolean }> }
    >("select public.run_retention(5000, 60000, true) as pass");
    const broken = pass.find((b) => b.data_class === "broken_test");
    assert.match(
      broken?.error ?? "",
      /purge function private\.no_such_purge\(integer\) does not exist/,
    );
    assert.equal(broken?.finished, true);
    assert.ok(pass.some((b) => b.data_class === "messages" && b.error === null));
    const [run] = await sql<{ error: string; finished: boolean }>(
      `select error, finished_at is not null as finished from privacy.retention_runs
        where data_class = 'broken_test'`,
    );
    assert.match(run.error, /no_such_purge/);
    assert.equal(run.finished, true);
  } finally {
    await sql("delete from privacy.retention_runs where data_class = 'broken_test'");
    await sql("delete from privacy.retention_classes where data_class = 'broken_test'");
  }
});

Deno.test("a pass runs its purges with backend_flush_after = 256kB, so that what they empty reaches the disk as they go, and leaves the session's own setting alone", async () => {
  // a purge of its own that notes the setting it runs under
  await sql(
    `create table private.flush_seen_test (setting text);
     create function private.flush_probe_test(max_rows integer)
       returns table (client_id uuid, deleted bigint) language sql as $$
         insert into private.flush_seen_test values (current_setting('backend_flush_after'));
         select null::uuid, 0::bigint where false
       $$;
     insert into privacy.retention_classes (data_class, description, default_keep, minimum_keep,
       maximum_keep, per_client, subject_hold, run_every, purge_function, basis)
     values ('flush_test', 'test', '1 day', '1 day', '1 day', false, 'none', '1 hour',
       'private.flush_probe_test(integer)', 'test')`,
  );
  const s = await session();
  try {
    await s.query("set backend_flush_after = 0");
    await s.query("call private.run_retention('manual', 5000, interval '1 minute', true)");
    const seen = await s.query("select setting from private.flush_seen_test");
    assert.deepEqual(seen.rows, [{ setting: "256kB" }]);
    const after = await s.query("show backend_flush_after");
    assert.deepEqual(after.rows, [{ backend_flush_after: "0" }]);
  } finally {
    await s.end();
    await sql("delete from privacy.retention_runs where data_class = 'flush_test'");
    await sql("delete from privacy.retention_classes where data_class = 'flush_test'");
    await sql(
      "drop function private.flush_probe_test(integer); drop table private.flush_seen_test",
    );
  }
});

Deno.test("privacy_staff reads retention and sets policies, audited under its role, but cannot purge or rewrite the record of runs", async () => {
  const clientId = await createTestClient("Staff");
  const staff = await session();
  try {
    await staff.query("set role privacy_staff");
    for (
      const table of ["retention_classes", "retention_policies", "retention_runs", "legal_holds"]
    ) {
      await staff.query(`select count(*) from privacy.${table}`);
    }
    const inEffect = await staff.query(
      "select keep_for::text from privacy.retention_in_effect where client_id = $1 and data_class = 'messages'",
      [clientId],
    );
    assert.deepEqual(inEffect.rows, [{ keep_for: "90 days" }]);
    await staff.query(
      `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
       values ($1, 'messages', interval '30 days', 'client instruction')`,
      [clientId],
    );
    const refused = [
      "delete from privacy.retention_runs",
      "update privacy.retention_classes set default_keep = interval '1 day'",
      "insert into privacy.legal_holds (client_id, reason) values (gen_random_uuid(), 'x')",
      "call private.run_retention()",
      "select * from private.purge_messages(1)",
      "select public.run_retention()",
    ];
    for (const statement of refused) {
      await assert.rejects(staff.query(statement), /permission denied/, statement);
    }
  } finally {
    await staff.end();
  }
  const audit = await sql<{ actor: string }>(
    "select actor from audit_log where client_id = $1 and action = 'retention_policies.insert'",
    [clientId],
  );
  assert.deepEqual(audit, [{ actor: "privacy_staff" }]);
});

Deno.test("without pg_cron, scheduling retention says so and registers nothing, and pg_cron's history class removes nothing", async () => {
  const [{ installed }] = await sql<{ installed: boolean }>(
    "select exists (select 1 from pg_extension where extname = 'pg_cron') as installed",
  );
  assert.equal(
    installed,
    false,
    "the embedded stack has no pg_cron (tools/supabase_compat.ts has)",
  );
  const [{ said }] = await sql<{ said: string }>("select private.schedule_retention() as said");
  assert.equal(said, "pg_cron is not installed: the app's sweeper applies retention");
  assert.deepEqual(await sql("select * from private.purge_cron_run_history(100)"), []);
});

Deno.test("deleting a client deletes its retention policies, and the audit log keeps the record of it", async () => {
  const clientId = await createTestClient("Leaving");
  await sql(
    `insert into privacy.retention_policies (client_id, data_class, keep_for, reason)
     values ($1, 'messages', interval '30 days', 'client instruction')`,
    [clientId],
  );
  await sql("delete from clients where id = $1", [clientId]);
  assert.deepEqual(
    await sql("select 1 from privacy.retention_policies where client_id = $1", [clientId]),
    [],
  );
  const audit = await sql<{ action: string; client: string | null; of: string }>(
    `select action, client_id::text as client, details -> 'before' ->> 'client_id' as of
       from audit_log where target_type = 'privacy.retention_policies'
        and details -> 'before' ->> 'client_id' = $1`,
    [clientId],
  );
  assert.deepEqual(audit, [{ action: "retention_policies.delete", client: null, of: clientId }]);
});

Deno.test("a purge can pause between batches to leave the database to other work", async () => {
  const c = await createClientWithPhone("Paused purge");
  const ids = await Promise.all(Array.from({ length: 5 }, () => message(c, 200)));
  const started = performance.now();
  // batches of 2: at least three passes for these messages, so at least two pauses
  await sql(
    "call private.run_retention('manual', 2, interval '5 minutes', true, interval '300 milliseconds')",
  );
  assert.ok(performance.now() - started >= 600, "it waited between batches");
  assert.deepEqual(await existing("messages", ids), []);
});
