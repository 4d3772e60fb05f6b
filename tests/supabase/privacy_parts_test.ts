import assert from "node:assert/strict";
import {
  clientWithToken,
  countRows,
  createClientWithPhone,
  serviceClient,
  signJwt,
  sql,
} from "../_support/stack.ts";
import { uniqueNumber } from "../_support/privacy.ts";

/**
 * public.apply_privacy_part is callable by any client JWT (a part is carried out as its client):
 * it must do nothing for another client's part, nothing for a part the fulfilment has not leased,
 * and nothing at all, in the same statement that would erase, while a legal hold stands.
 */
async function deletionPart() {
  const { clientId, phoneId } = await createClientWithPhone("Apply test client");
  const waId = uniqueNumber();
  const [contact] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id) values ($1, $2) returning id",
    [clientId, waId],
  );
  await sql(
    "insert into messages (client_id, phone_number_id, contact_id, direction, type, status, recipient) values ($1, $2, $3, 'inbound', 'text', 'received', $4)",
    [clientId, phoneId, contact.id, waId],
  );
  const hash = (crypto.randomUUID() + crypto.randomUUID()).replaceAll("-", "");
  const [request] = await sql<{ id: string }>(
    `insert into privacy_requests (reference_hash, reference_prefix, filing_client_id, type,
       channel, subject_kind, subject_hash, verification_method, verified_at, status,
       attested_by, attested_at, filed_by, approved_at)
     values ($1, 'APPL', $2, 'deletion', 'api', 'whatsapp', $1, 'client_attestation', now(),
       'in_progress', 'jane', now(), 'test', now()) returning id`,
    [hash, clientId],
  );
  const [part] = await sql<{ id: string }>(
    "insert into privacy_request_parts (request_id, client_id, status, next_attempt_at) values ($1, $2, 'queued', now()) returning id",
    [request.id, clientId],
  );
  return { clientId, contactId: contact.id, waId, partId: part.id };
}

const asClient = async (clientId: string) =>
  clientWithToken(await signJwt({ client_id: clientId, sub: clientId }));

Deno.test("apply_privacy_part does nothing for another client's part or a part not leased for this attempt", async () => {
  const { clientId, partId, waId } = await deletionPart();
  const other = await createClientWithPhone("Another client");
  const service = serviceClient();

  const unleased = await (await asClient(clientId)).rpc("apply_privacy_part", { part_id: partId });
  assert.deepEqual(unleased.data, { outcome: "not_claimed" });

  const claimed = await service.rpc("claim_privacy_part", { part_id: partId, lease_seconds: 60 });
  assert.ok(claimed.data, JSON.stringify(claimed.error));
  await service.rpc("resolve_privacy_part_contacts", {
    part_id: partId,
    wa_id: waId,
    user_id: null,
  });
  const theirs = await (await asClient(other.clientId)).rpc("apply_privacy_part", {
    part_id: partId,
  });
  assert.deepEqual(theirs.data, { outcome: "not_claimed" });
  assert.equal(await countRows("messages", clientId), 1);

  const own = await (await asClient(clientId)).rpc("apply_privacy_part", { part_id: partId });
  assert.equal(own.data.outcome, "done", JSON.stringify(own));
  assert.equal(own.data.result.messages, 1);
  assert.equal(await countRows("messages", clientId), 0);
});

Deno.test("a legal hold placed after the fulfilment checked stops the erasure in the statement that would erase", async () => {
  const { clientId, contactId, partId, waId } = await deletionPart();
  const service = serviceClient();
  await service.rpc("claim_privacy_part", { part_id: partId, lease_seconds: 60 });
  await service.rpc("resolve_privacy_part_contacts", {
    part_id: partId,
    wa_id: waId,
    user_id: null,
  });
  // the race: the app checked (no hold), then staff place one before the erasure runs
  await sql(
    "insert into privacy.legal_holds (client_id, kind, contact_id, reason, placed_by) values ($1, 'contact', $2, 'late hold', 'test')",
    [clientId, contactId],
  );
  const applied = await (await asClient(clientId)).rpc("apply_privacy_part", { part_id: partId });
  assert.deepEqual(applied.data, { outcome: "held" });
  assert.equal(await countRows("messages", clientId), 1);
  assert.equal(await countRows("contacts", clientId), 1);
});
