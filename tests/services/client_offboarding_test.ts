import assert from "node:assert/strict";
import { offboardingStore } from "../../src/adapters/supabase/offboarding_store.ts";
import { LegalHoldError } from "../../src/ports/offboarding.ts";
import { offboardClient } from "../../src/services/client_offboarding.ts";
import { eventually } from "../_support/channel.ts";
import { serviceClient, sql } from "../_support/stack.ts";
import { asPrivacyStaff, newSubject, privacyWorld, tablesHolding } from "../_support/privacy.ts";

/** Every row, in any table we own, that names the client. */
async function rowsOf(clientId: string): Promise<Record<string, number>> {
  const tables = await sql<{ name: string; col: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name, a.attname as col
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and not a.attisdropped
      where n.nspname in ('public', 'private', 'privacy') and c.relkind in ('r', 'p')
        and (a.attname in ('client_id', 'filing_client_id') or (c.relname = 'clients' and a.attname = 'id'))
        and not (n.nspname = 'privacy' and c.relname = 'client_offboardings')`,
  );
  const found: Record<string, number> = {};
  for (const t of tables) {
    const [{ n }] = await sql<{ n: number }>(
      `select count(*)::int as n from ${t.name} where ${t.col} = $1`,
      [clientId],
    );
    if (n) found[t.name] = n;
  }
  return found;
}

Deno.test("offboarding a client shreds its data key first, removes its rows in batches with a record, and leaves nothing of it readable", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const [leaving] = world.businesses;
    const subjects = [newSubject(), newSubject()];
    for (const s of subjects) {
      for (const text of s.texts) await world.writeIn(s, leaving, text);
    }
    // what a backup taken now would hold: the wrapped key and a ciphertext
    const [{ wrapped_key }] = await sql<{ wrapped_key: string }>(
      "select wrapped_key from client_data_keys where client_id = $1",
      [leaving.clientId],
    );
    const [{ content_ciphertext }] = await sql<{ content_ciphertext: string }>(
      "select content_ciphertext from messages where client_id = $1 limit 1",
      [leaving.clientId],
    );
    const before = await rowsOf(leaving.clientId);
    assert.ok(
      before["public.messages"] === 4 && before["public.contacts"] === 2,
      JSON.stringify(before),
    );

    const steps: Array<Record<string, number>> = [];
    const { record, total } = await offboardClient(
      offboardingStore(serviceClient()),
      leaving.clientId,
      { requestedBy: "operator:test", batch: 3, onProgress: (r) => steps.push(r) },
    );
    assert.ok(steps.length >= 3, `removed in batches of 3: ${JSON.stringify(steps)}`);
    for (const step of steps) {
      assert.ok(Object.values(step).reduce((a, b) => a + b, 0) <= 3, "no batch over its size");
    }
    assert.equal(total["messages"], 4);
    assert.equal(total["contacts"], 2);
    assert.ok(record.key_shredded_at);

    assert.deepEqual(await rowsOf(leaving.clientId), {}, "no row of the client is left");
    const [finished] = await sql<{ finished_at: Date | null; removed: Record<string, number> }>(
      "select finished_at, removed from privacy.client_offboardings where client_id = $1",
      [leaving.clientId],
    );
    assert.ok(finished.finished_at);
    assert.equal(finished.removed.messages, 4);

    // nothing readable: no text, no name, and not the wrapped key a backup's ciphertext needs
    const needles = [
      ...subjects.flatMap((s) => [s.name, ...s.texts]),
      wrapped_key,
      content_ciphertext,
    ];
    assert.deepEqual(await tablesHolding(needles), {});
    const audit = await sql<{ action: string }>(
      "select action from audit_log where target_id = $1 order by id",
      [leaving.clientId],
    );
    assert.deepEqual(audit.map((a) => a.action), [
      "client.offboarding_started",
      "client.offboarded",
    ]);
  } finally {
    await world.close();
  }
});

Deno.test("an offboarding is refused under a legal hold, and one that was interrupted is finished by the sweeper", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const [business] = world.businesses;
    const subject = newSubject();
    await world.writeIn(subject, business, subject.texts[0]);
    const store = offboardingStore(serviceClient());

    const [hold] = await asPrivacyStaff<{ id: string }>([
      ["select id from privacy.place_legal_hold($1, 'Tax audit 2026: keep records')", [
        business.clientId,
      ]],
    ]);
    await assert.rejects(store.start(business.clientId, "operator:test"), LegalHoldError);
    const [client] = await sql<{ status: string }>("select status from clients where id = $1", [
      business.clientId,
    ]);
    assert.equal(client.status, "active", "nothing changed");
    assert.equal((await rowsOf(business.clientId))["public.client_data_keys"], 1);
    await asPrivacyStaff([["select privacy.lift_legal_hold($1, 'Audit closed')", [hold.id]]]);

    // started (the key shredded at once), then the operator's run is cut short
    await store.start(business.clientId, "operator:test");
    assert.equal((await rowsOf(business.clientId))["public.client_data_keys"], undefined);
    // the app cannot make a new key for it meanwhile: nothing new would outlive the shredding
    world.ch.app.deps.services.dataKeys.forget(business.clientId);
    await assert.rejects(
      world.ch.app.deps.services.dataKeys.forClient(business.clientId),
      /being offboarded/,
    );
    // the sweep rings a client_offboarding job for it; the consumer removes a batch. (Not idle():
    // in the full suite the sweep also re-rings other tests' leftover work, whose backoff it
    // would wait for.)
    await world.ch.app.sweep();
    await eventually(
      async () => Object.keys(await rowsOf(business.clientId)).length === 0,
      "the offboarding finished by the sweeper's job",
    );
    const [finished] = await sql<{ finished_at: Date | null }>(
      "select finished_at from privacy.client_offboardings where client_id = $1",
      [business.clientId],
    );
    assert.ok(finished.finished_at);
  } finally {
    await world.close();
  }
});
