import assert from "node:assert/strict";
import { clientWithToken, createTestClient, signJwt, sql } from "../_support/stack.ts";

/**
 * plugin_installations.routing_key is unique per plugin (a shop domain finds its client by it), so
 * a client that could write the table directly would claim another's shop first. Only the API,
 * after the plugin's verification, writes it (public.save_plugin_installation, service role).
 */
Deno.test("a client's own JWT can read its plugin installations but neither insert, update nor delete them", async () => {
  const clientId = await createTestClient("Plugin writer");
  const [seeded] = await sql<{ id: string }>(
    "insert into plugin_installations (client_id, plugin_id, routing_key) values ($1, 'shop-sync', $2) returning id",
    [clientId, `own-${crypto.randomUUID()}.example.com`],
  );
  const asClient = clientWithToken(await signJwt({ client_id: clientId }));

  const read = await asClient.from("plugin_installations").select("id").eq("client_id", clientId);
  assert.deepEqual(read.data, [{ id: seeded.id }], "its own installation is readable");

  const claimed = await asClient.from("plugin_installations").insert({
    client_id: clientId,
    plugin_id: "other-sync",
    routing_key: "someone-elses-shop.example.com",
  });
  assert.ok(claimed.error, "an insert of its own row is refused");

  const moved = await asClient.from("plugin_installations")
    .update({ routing_key: "someone-elses-shop.example.com" }).eq("id", seeded.id).select();
  assert.deepEqual(moved.data ?? [], [], "an update of its own row changes nothing");
  const removed = await asClient.from("plugin_installations").delete().eq("id", seeded.id)
    .select();
  assert.deepEqual(removed.data ?? [], [], "a delete of its own row removes nothing");

  const [after] = await sql<{ routing_key: string }>(
    "select routing_key from plugin_installations where id = $1",
    [seeded.id],
  );
  assert.match(after.routing_key, /^own-/);
});

Deno.test("save_plugin_installation is the service role's alone", async () => {
  const clientId = await createTestClient("Plugin writer");
  const asClient = clientWithToken(await signJwt({ client_id: clientId }));
  const { error } = await asClient.rpc("save_plugin_installation", {
    installation: { client_id: clientId, plugin_id: "shop-sync", enabled: true, config: {} },
    audit: { actor: "attacker", action: "plugin.installed" },
  });
  assert.ok(error, "a client cannot call it");
  assert.deepEqual(
    await sql("select 1 from plugin_installations where client_id = $1", [clientId]),
    [],
  );
});
