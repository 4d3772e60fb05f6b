import assert from "node:assert/strict";
import { createDatabaseAccess } from "../../src/adapters/supabase/database.ts";
import {
  clientWithToken,
  countRows,
  createClientWithPhone,
  signJwt,
  sql,
  testStack,
} from "../_support/stack.ts";

/**
 * public.ingest_whatsapp_batch straight through PostgREST, as the consumer calls it: the contact
 * rules (number first, a contact learns the identifier it lacked, one contact per person), the
 * newest name and inbound time, and deduplication by wamid, within a batch and across batches.
 */

async function tenant() {
  const { clientId, phoneId } = await createClientWithPhone("Ingest batch");
  const db = clientWithToken(await signJwt({ client_id: clientId }));
  let seq = 0;
  const msg = (
    from: { wa?: string | null; uid?: string | null },
    extra: Record<string, unknown> = {},
  ) => ({
    id: crypto.randomUUID(),
    phone_number_id: phoneId,
    wa_id: from.wa ?? null,
    user_id: from.uid ?? null,
    profile_name_ciphertext: null,
    wamid: `wamid.T${++seq}_${crypto.randomUUID()}`,
    type: "text",
    content_ciphertext: "ct",
    media: null,
    context_wamid: null,
    timestamp: new Date(Date.UTC(2026, 11, 1, 0, 0, seq)).toISOString(),
    ...extra,
  });
  const ingest = async (messages: Record<string, unknown>[]) => {
    const { data, error } = await db.rpc("ingest_whatsapp_batch", { batch: { messages } });
    if (error) throw new Error(error.message);
    return data as { inserted: string[]; statuses: unknown[] };
  };
  const contacts = () =>
    sql<{ id: string; wa_id: string | null; user_id: string | null }>(
      "select id, wa_id, user_id from contacts where client_id = $1 order by wa_id nulls last, user_id",
      [clientId],
    );
  const contactOf = async (wamid: string) =>
    (await sql<{ contact_id: string }>(
      "select contact_id from messages where client_id = $1 and wamid = $2",
      [clientId, wamid],
    ))[0]?.contact_id;
  return { clientId, msg, ingest, contacts, contactOf };
}

Deno.test("a batch creates each new contact once and stores every message once", async () => {
  const t = await tenant();
  const a = t.msg({ wa: "447700900001" });
  const b = t.msg({ wa: "447700900002" });
  const a2 = t.msg({ wa: "447700900001" });
  const result = await t.ingest([a, b, a2, { ...a, id: crypto.randomUUID() }]);
  assert.deepEqual(new Set(result.inserted), new Set([a.id, b.id, a2.id]));
  assert.deepEqual((await t.contacts()).map((c) => c.wa_id), ["447700900001", "447700900002"]);
  assert.equal(await t.contactOf(a.wamid), await t.contactOf(a2.wamid));

  // the same wamids again: nothing new, nothing doubled
  const again = await t.ingest([{ ...a, id: crypto.randomUUID() }, {
    ...b,
    id: crypto.randomUUID(),
  }]);
  assert.deepEqual(again.inserted, []);
  assert.equal(await countRows("messages", t.clientId), 3);
});

Deno.test("a contact first known by business-scoped id learns its number, and the reverse", async () => {
  const t = await tenant();
  const first = t.msg({ uid: "US.100" });
  await t.ingest([first]);
  const both = t.msg({ wa: "447700900010", uid: "US.100" });
  await t.ingest([both]);
  assert.deepEqual(
    (await t.contacts()).map(({ wa_id, user_id }) => ({ wa_id, user_id })),
    [{ wa_id: "447700900010", user_id: "US.100" }],
  );
  assert.equal(await t.contactOf(first.wamid), await t.contactOf(both.wamid));

  // number first, then both, then the id alone, all in one batch: still one contact
  const n1 = t.msg({ wa: "447700900020" });
  const n2 = t.msg({ wa: "447700900020", uid: "US.200" });
  const n3 = t.msg({ uid: "US.200" });
  await t.ingest([n1, n2, n3]);
  const learnt = (await t.contacts()).filter((c) => c.user_id === "US.200");
  assert.deepEqual(learnt.map((c) => c.wa_id), ["447700900020"]);
  const ids = new Set([
    await t.contactOf(n1.wamid),
    await t.contactOf(n2.wamid),
    await t.contactOf(n3.wamid),
  ]);
  assert.deepEqual(ids, new Set([learnt[0].id]));
});

Deno.test("the number wins over the business-scoped id, and a taken identifier is not copied", async () => {
  const t = await tenant();
  const byNumber = t.msg({ wa: "447700900030" });
  const byId = t.msg({ uid: "US.300" });
  await t.ingest([byNumber, byId]);
  // a message naming both belongs to the number's contact; the id stays with its own contact
  const mixed = t.msg({ wa: "447700900030", uid: "US.300" });
  await t.ingest([mixed]);
  assert.equal(await t.contactOf(mixed.wamid), await t.contactOf(byNumber.wamid));
  assert.deepEqual(
    (await t.contacts()).map(({ wa_id, user_id }) => ({ wa_id, user_id })),
    [{ wa_id: "447700900030", user_id: null }, { wa_id: null, user_id: "US.300" }],
  );
});

Deno.test("the contact keeps the newest inbound time and the latest name in the batch", async () => {
  const t = await tenant();
  const late = t.msg({ wa: "447700900040" }, {
    profile_name_ciphertext: "name-late",
    timestamp: "2026-12-01T10:00:00.000Z",
  });
  const early = t.msg({ wa: "447700900040" }, {
    profile_name_ciphertext: "name-early",
    timestamp: "2026-12-01T09:00:00.000Z",
  });
  const nameless = t.msg({ wa: "447700900040" }, { timestamp: "2026-12-01T08:00:00.000Z" });
  await t.ingest([late, early, nameless]);
  const [c] = await sql<{ last_inbound_at: Date; profile_name_ciphertext: string }>(
    "select last_inbound_at, profile_name_ciphertext from contacts where client_id = $1",
    [t.clientId],
  );
  assert.equal(c.last_inbound_at.toISOString(), "2026-12-01T10:00:00.000Z");
  // the last name sent in the batch, as if the messages had been stored one after another
  assert.equal(c.profile_name_ciphertext, "name-early");
  // an older message arriving later never moves the inbound time back
  await t.ingest([t.msg({ wa: "447700900040" }, { timestamp: "2026-11-30T00:00:00.000Z" })]);
  const [after] = await sql<{ last_inbound_at: Date; profile_name_ciphertext: string }>(
    "select last_inbound_at, profile_name_ciphertext from contacts where client_id = $1",
    [t.clientId],
  );
  assert.equal(after.last_inbound_at.toISOString(), "2026-12-01T10:00:00.000Z");
  assert.equal(after.profile_name_ciphertext, "name-early");
});

Deno.test("a message with neither a number nor an id is refused and the batch stores nothing", async () => {
  const t = await tenant();
  await assert.rejects(
    t.ingest([t.msg({ wa: "447700900050" }), t.msg({})]),
    /a contact needs a wa_id or a user_id/,
  );
  assert.deepEqual(await t.contacts(), []);
});

Deno.test("concurrent batches naming the same new contacts end with one contact each", async () => {
  const t = await tenant();
  const people = Array.from({ length: 20 }, (_, i) => `4477009001${String(i).padStart(2, "0")}`);
  await Promise.all(
    Array.from({ length: 6 }, () => t.ingest(people.map((wa) => t.msg({ wa })))),
  );
  const all = await t.contacts();
  assert.equal(all.length, people.length);
  assert.equal(await countRows("messages", t.clientId, "contact_id is null"), 0);
});

Deno.test("through the app's database access, strings PostgreSQL cannot hold are stored with U+FFFD in their place, in text and jsonb columns, keys and values, by RPC and by insert", async () => {
  const { clientId, phoneId } = await createClientWithPhone("Ingest batch storable");
  const env = testStack().appEnv;
  const db = createDatabaseAccess({
    url: env.SUPABASE_URL,
    anonKey: env.SUPABASE_ANON_KEY,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
    jwtSecret: env.SUPABASE_JWT_SECRET,
  });
  const wamid = `wamid.\u0000${crypto.randomUUID()}\ud800`;
  const { error } = await db.forClient(clientId).rpc("ingest_whatsapp_batch", {
    batch: {
      messages: [{
        id: crypto.randomUUID(),
        phone_number_id: phoneId,
        wa_id: "447700900060",
        user_id: null,
        profile_name_ciphertext: null,
        wamid,
        type: "text",
        content_ciphertext: "ct",
        media: { id: "m\u0000", mime_type: "\udfffimage/png" },
        context_wamid: "\u0000",
        timestamp: "2026-12-01T00:00:00.000Z",
      }],
      fields: [{
        waba_id: "1",
        phone_number_id: null,
        field: "x\u0000",
        value: { "\u0000": "\udc00" },
      }],
    },
  });
  assert.equal(error, null, error?.message);
  const [message] = await sql<{ wamid: string; media: unknown; context_wamid: string }>(
    "select wamid, media, context_wamid from messages where client_id = $1",
    [clientId],
  );
  assert.deepEqual(message, {
    wamid: wamid.replace("\u0000", "\ufffd").replace("\ud800", "\ufffd"),
    media: { id: "m\ufffd", mime_type: "\ufffdimage/png" },
    context_wamid: "\ufffd",
  });
  const [field] = await sql<{ field: string; value: unknown }>(
    "select field, value from whatsapp_account_events where client_id = $1",
    [clientId],
  );
  assert.deepEqual(field, { field: "x\ufffd", value: { "\ufffd": "\ufffd" } });

  const kind = `kind.${crypto.randomUUID()}\u0000`;
  const inserted = await db.service.from("unrouted_webhook_events")
    .insert({ phone_number_id: "\ud83d", waba_id: "\u0000", kind });
  assert.equal(inserted.error, null, inserted.error?.message);
  const unrouted = await sql<{ phone_number_id: string; waba_id: string }>(
    "select phone_number_id, waba_id from unrouted_webhook_events where kind = $1",
    [kind.replace("\u0000", "\ufffd")],
  );
  assert.deepEqual(unrouted, [{ phone_number_id: "\ufffd", waba_id: "\ufffd" }]);
});
