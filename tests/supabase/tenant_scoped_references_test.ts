import assert from "node:assert/strict";
import { createClientWithPhone, sql } from "../_support/stack.ts";

/**
 * The tenant-scoped foreign keys (supabase/migrations/20261202000500_tenant_scoped_references.sql)
 * keep the delete actions the single-column keys had: rls_matrix_test.ts proves what they refuse,
 * these what they still do when a referenced row goes.
 */

const one = async (text: string, params: unknown[]) => String((await sql(text, params))[0].id);

async function seedClient() {
  const { clientId, phoneId } = await createClientWithPhone("Reference actions");
  const contact = await one(
    "insert into contacts (client_id, wa_id) values ($1, $2) returning id",
    [clientId, String(1e9 + Math.floor(Math.random() * 1e9))],
  );
  await sql(
    "insert into consent_events (client_id, contact_id, status, source, actor) values ($1, $2, 'opted_in', 'test', 't')",
    [clientId, contact],
  );
  const message = await one(
    "insert into messages (client_id, phone_number_id, contact_id, direction, type, status, wamid) values ($1, $2, $3, 'outbound', 'text', 'sent', $4) returning id",
    [clientId, phoneId, contact, `wamid.${crypto.randomUUID()}`],
  );
  await sql(
    "insert into message_status_events (client_id, message_id, wamid, status, occurred_at) values ($1, $2, 'w', 'sent', now())",
    [clientId, message],
  );
  const endpoint = await one(
    "insert into webhook_endpoints (client_id, url, secret_ciphertext) values ($1, 'https://hooks.example.com/x', 'e1.a.b') returning id",
    [clientId],
  );
  await sql(
    "insert into webhook_deliveries (client_id, endpoint_id, event_id, event_type, payload_ciphertext) values ($1, $2, 'evt_1', 'message.received', 'e1.a.b')",
    [clientId, endpoint],
  );
  return { clientId, phoneId, contact, message, endpoint };
}

const count = async (table: string, clientId: string) =>
  Number(
    (await sql<{ n: number }>(`select count(*)::int as n from ${table} where client_id = $1`, [
      clientId,
    ]))[0].n,
  );

Deno.test("deleting a contact nulls its messages' contact_id, keeps their client_id and deletes its consent events", async () => {
  const { clientId, contact, message } = await seedClient();
  await sql("delete from contacts where id = $1", [contact]);
  const [row] = await sql<{ client_id: string; contact_id: string | null }>(
    "select client_id, contact_id from messages where id = $1",
    [message],
  );
  assert.deepEqual(row, { client_id: clientId, contact_id: null });
  assert.equal(await count("consent_events", clientId), 0);
});

Deno.test("deleting a phone number, an endpoint or an account deletes what hangs on it", async () => {
  const { clientId, phoneId, endpoint } = await seedClient();
  await sql("delete from webhook_endpoints where id = $1", [endpoint]);
  assert.equal(await count("webhook_deliveries", clientId), 0);
  await sql("delete from phone_numbers where id = $1", [phoneId]);
  assert.equal(await count("messages", clientId), 0);
  assert.equal(await count("message_status_events", clientId), 0);

  const other = await createClientWithPhone("Reference actions, account");
  await sql("delete from whatsapp_business_accounts where client_id = $1", [other.clientId]);
  assert.equal(await count("phone_numbers", other.clientId), 0);
});

Deno.test("deleting a client deletes every row that references one of its rows", async () => {
  const { clientId } = await seedClient();
  await sql("delete from clients where id = $1", [clientId]);
  for (
    const table of [
      "whatsapp_business_accounts",
      "phone_numbers",
      "contacts",
      "consent_events",
      "messages",
      "message_status_events",
      "webhook_endpoints",
      "webhook_deliveries",
    ]
  ) {
    assert.equal(await count(table, clientId), 0, table);
  }
});
