import assert from "node:assert/strict";
import { clientWithToken, createClientWithPhone, signJwt, sql } from "../_support/stack.ts";

async function outbound(clientId: string, phoneId: string, deadLettered: boolean) {
  const [{ id }] = await sql<{ id: string }>(
    "insert into messages (client_id, phone_number_id, direction, type, status, recipient, " +
      "dead_lettered_at, failed_at) values ($1, $2, 'outbound', 'text', $3, '447700900123', " +
      "$4, $4) returning id",
    [clientId, phoneId, deadLettered ? "failed" : "sent", deadLettered ? new Date() : null],
  );
  return id;
}

Deno.test("retry_of names only a dead-lettered message of the same client, once, even directly at PostgREST", async () => {
  const a = await createClientWithPhone("Re-drive client A");
  const b = await createClientWithPhone("Re-drive client B");
  const asA = clientWithToken(await signJwt({ client_id: a.clientId }));
  const deadOfA = await outbound(a.clientId, a.phoneId, true);
  const sentOfA = await outbound(a.clientId, a.phoneId, false);
  const deadOfB = await outbound(b.clientId, b.phoneId, true);
  const redrive = await outbound(a.clientId, a.phoneId, false);
  const other = await outbound(a.clientId, a.phoneId, false);

  const link = (id: string, to: string) =>
    asA.from("messages").update({ retry_of: to }).eq("id", id).select("id");
  const refusals = [
    [deadOfB, "another client's dead-lettered message"],
    [crypto.randomUUID(), "no message at all"],
    [sentOfA, "a message of its own that did not fail"],
  ] as const;
  const errors: string[] = [];
  for (const [target, what] of refusals) {
    const { error } = await link(redrive, target);
    assert.ok(error, `linking to ${what} is refused`);
    errors.push(error.message);
  }
  // another client's message and no message at all are refused alike: nothing to learn from it
  assert.equal(errors[0], errors[1]);

  const { error } = await link(redrive, deadOfA);
  assert.equal(error, null);
  const second = await link(other, deadOfA);
  assert.ok(second.error, "a dead-lettered message is re-driven once");
});
