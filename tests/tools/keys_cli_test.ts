import assert from "node:assert/strict";
import { runTool } from "../_support/cli.ts";
import { createTestClient, serviceClient, sql, testStack } from "../_support/stack.ts";
import { dataKeys } from "../../src/adapters/supabase/data_keys.ts";
import {
  decryptField,
  encryptField,
  generateMasterKey,
  parseKeyring,
} from "../../src/core/crypto/envelope.ts";

Deno.test("keys rotate re-wraps data keys under the new master key; stored fields still decrypt", async () => {
  const v1 = testStack().secrets.master_keys;
  const v2 = generateMasterKey("rot2");
  const clientId = await createTestClient("Rotation");
  const before = dataKeys({ keyring: await parseKeyring(v1), service: serviceClient() });
  const ct = await encryptField(await before.forClient(clientId), "EAAG-token", "wa_token:x");

  const res = await runTool("tools/keys_cli.ts", ["rotate"], { MASTER_KEYS: `${v1},${v2}` });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /Re-wrapped \d+ of \d+ data keys under master key rot2/);
  const [row] = await sql<{ master_key_version: string; rewrapped_at: Date }>(
    "select master_key_version, rewrapped_at from client_data_keys where client_id = $1",
    [clientId],
  );
  assert.equal(row.master_key_version, "rot2");
  assert.ok(row.rewrapped_at);

  const after = dataKeys({ keyring: await parseKeyring(v2), service: serviceClient() });
  assert.equal(await decryptField(await after.forClient(clientId), ct, "wa_token:x"), "EAAG-token");

  // put the test stack back on its own key for the tests that follow
  const back = await runTool("tools/keys_cli.ts", ["rotate"], { MASTER_KEYS: `${v2},${v1}` });
  assert.equal(back.code, 0, back.stderr);
});

Deno.test("deleting a client crypto-shreds its data key", async () => {
  const clientId = await createTestClient("Shredded");
  const keys = dataKeys({
    keyring: await parseKeyring(testStack().secrets.master_keys),
    service: serviceClient(),
  });
  await keys.forClient(clientId);
  assert.equal(
    (await sql("select 1 from client_data_keys where client_id = $1", [clientId])).length,
    1,
  );
  await sql("delete from clients where id = $1", [clientId]);
  assert.equal(
    (await sql("select 1 from client_data_keys where client_id = $1", [clientId])).length,
    0,
  );
});
