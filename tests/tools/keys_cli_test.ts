import assert from "node:assert/strict";
import { runTool } from "../_support/cli.ts";
import { createTestClient, serviceClient, sql, testApp, testStack } from "../_support/stack.ts";
import { dataKeys } from "../../src/adapters/supabase/data_keys.ts";
import {
  decryptField,
  encryptField,
  generateMasterKey,
  parseKeyring,
} from "../../src/core/crypto/envelope.ts";

/** An app instance composed as the Deno entry does, holding `masterKeys`; its sweep reports them. */
async function instance(masterKeys: string) {
  const composed = await testApp({ MASTER_KEYS: masterKeys });
  return {
    report: async () => void await composed.sweep(),
    stop: async () => {
      await composed.withdrawKeyReport();
      composed.bell?.close();
    },
  };
}

const dataKeyVersion = async (clientId: string) =>
  (await sql<{ v: string }>(
    "select master_key_version as v from client_data_keys where client_id = $1",
    [clientId],
  ))[0].v;

Deno.test("keys rotate refuses a key that no running app instance reports, or that one of them lacks; once every instance holds it, it re-wraps the data keys and stored fields still decrypt", async () => {
  const v1 = testStack().secrets.master_keys;
  const v2 = generateMasterKey("rot2");
  const clientId = await createTestClient("Rotation");
  const before = dataKeys({ keyring: await parseKeyring(v1), service: serviceClient() });
  const ct = await encryptField(await before.forClient(clientId), "EAAG-token", "wa_token:x");
  const rotate = (keys: string) => runTool("tools/keys_cli.ts", ["rotate"], { MASTER_KEYS: keys });
  // instances of earlier tests that never stopped cleanly: gone, as their reports would expire
  await sql("delete from private.master_key_reports");
  const running: Array<Awaited<ReturnType<typeof instance>>> = [];
  try {
    const nobody = await rotate(`${v1},${v2}`);
    assert.equal(nobody.code, 1, nobody.stdout);
    assert.match(nobody.stderr, /no running app has reported/);
    assert.match(nobody.stderr, /master_keys" in the stack's secrets\.json/);
    assert.match(nobody.stderr, /wrangler secret put MASTER_KEYS/);
    assert.doesNotMatch(nobody.stderr, new RegExp(v2.split(":")[1].slice(0, 12)), "no key shown");

    const old = await instance(v1);
    running.push(old);
    await old.report();
    const lacking = await rotate(`${v1},${v2}`);
    assert.equal(lacking.code, 1);
    assert.match(lacking.stderr, /1 of 1 running app instance\(s\) do not hold master key rot2/);

    const updated = await instance(`${v1},${v2}`);
    running.push(updated);
    await updated.report();
    const oneLacking = await rotate(`${v1},${v2}`);
    assert.equal(oneLacking.code, 1);
    assert.match(oneLacking.stderr, /1 of 2 running app instance/);
    // the same name is not enough: a rot2 generated again is another key
    const impostor = await rotate(`${v1},${generateMasterKey("rot2")}`);
    assert.equal(impostor.code, 1);
    assert.match(impostor.stderr, /its rot2 is a different key/);
    assert.equal(await dataKeyVersion(clientId), "v1", "nothing was re-wrapped");

    await old.stop();
    running.shift();
    const res = await rotate(`${v1},${v2}`);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Re-wrapped \d+ of \d+ data keys under master key rot2/);
    const [row] = await sql<{ master_key_version: string; rewrapped_at: Date }>(
      "select master_key_version, rewrapped_at from client_data_keys where client_id = $1",
      [clientId],
    );
    assert.equal(row.master_key_version, "rot2");
    assert.ok(row.rewrapped_at);

    const after = dataKeys({ keyring: await parseKeyring(v2), service: serviceClient() });
    assert.equal(
      await decryptField(await after.forClient(clientId), ct, "wa_token:x"),
      "EAAG-token",
    );

    // put the test stack back on its own key for the tests that follow
    const back = await rotate(`${v2},${v1}`);
    assert.equal(back.code, 0, back.stderr);
  } finally {
    for (const r of running) await r.stop();
  }
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

Deno.test("keys explains an unknown option instead of a stack trace", async () => {
  const r = await runTool("tools/keys_cli.ts", ["rotate", "--bogus"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^keys: Unknown option '--bogus'.*deno task keys --help/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, "no stack trace");
});
