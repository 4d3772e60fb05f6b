import assert from "node:assert/strict";
import { clientWithToken, createClientWithPhone, signJwt, sql } from "../_support/stack.ts";

/**
 * A client's Supabase Auth user token is for the edge API only: at PostgREST itself it names no
 * client, so it can neither read nor write that client's rows and skip the API's rules.
 */
Deno.test("a Supabase Auth user token with app_metadata.client_id reads and writes nothing at PostgREST; the edge's own token does", async () => {
  const { clientId } = await createClientWithPhone("User token at PostgREST");
  const [contact] = await sql<{ id: string }>(
    "insert into contacts (client_id, wa_id) values ($1, '447700900555') returning id",
    [clientId],
  );
  const user = clientWithToken(
    await signJwt({ sub: crypto.randomUUID(), app_metadata: { client_id: clientId } }),
  );
  const edge = clientWithToken(await signJwt({ client_id: clientId }));

  const read = await user.from("contacts").select("id");
  assert.deepEqual(read.data, [], "nothing visible to the user token");
  assert.equal((await edge.from("contacts").select("id")).data?.length, 1, "the edge sees it");

  const write = await user.from("contacts").insert({ client_id: clientId, wa_id: "447700900556" });
  assert.ok(write.error, "an insert is refused");
  const change = await user.from("contacts").update({ wa_id: "447700900557" })
    .eq("id", contact.id).select("id");
  assert.deepEqual(change.data ?? [], [], "an update changes nothing");
  const [row] = await sql<{ wa_id: string }>("select wa_id from contacts where id = $1", [
    contact.id,
  ]);
  assert.equal(row.wa_id, "447700900555");
});
