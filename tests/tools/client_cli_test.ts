import assert from "node:assert/strict";
import { runTool } from "../_support/cli.ts";
import { appUnderTest, bearer } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";

const CLI = "tools/client_cli.ts";

Deno.test("client create prints a working key once; list shows it without the secret", async () => {
  const created = await runTool(CLI, [
    "create",
    "--name",
    "CLI Shop",
    "--scopes",
    "messages:read",
    "--json",
  ]);
  assert.equal(created.code, 0, created.stderr);
  const { client, key, api_key } = JSON.parse(created.stdout);
  assert.match(key, /^glf_live_/);
  const { call } = await appUnderTest();
  const me = await call("/v1/me", { headers: bearer(key) });
  assert.equal(me.status, 200);
  assert.equal(me.body.client.id, client.id);

  const listed = await runTool(CLI, ["list"]);
  assert.equal(listed.code, 0);
  assert.match(listed.stdout, new RegExp(api_key.id));
  assert.ok(!listed.stdout.includes(key));
});

Deno.test("client rotate-key issues a replacement and revokes the old key at once", async () => {
  const created = JSON.parse(
    (await runTool(CLI, ["create", "--name", "Rotating", "--json"])).stdout,
  );
  const rotated = await runTool(CLI, [
    "rotate-key",
    created.client.id,
    created.api_key.id,
    "--json",
  ]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const { key } = JSON.parse(rotated.stdout);
  const { call } = await appUnderTest();
  assert.equal((await call("/v1/me", { headers: bearer(key) })).status, 200);
  assert.equal(
    (await call("/v1/me", { headers: bearer(created.key), ip: "198.51.100.201" })).status,
    401,
  );
});

Deno.test("client rotate-key with --grace keeps the old key working until it expires", async () => {
  const created = JSON.parse(
    (await runTool(CLI, ["create", "--name", "Graceful", "--json"])).stdout,
  );
  const rotated = await runTool(CLI, [
    "rotate-key",
    created.client.id,
    created.api_key.id,
    "--grace",
    "30",
  ]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const [old] = await sql<{ expires_at: Date; revoked_at: Date | null }>(
    "select expires_at, revoked_at from api_keys where id = $1",
    [created.api_key.id],
  );
  assert.equal(old.revoked_at, null);
  const minutes = (old.expires_at.getTime() - Date.now()) / 60_000;
  assert.ok(minutes > 29 && minutes <= 30, `expires in ${minutes} min`);
});

Deno.test("client revoke-key and delete act and leave an audit record", async () => {
  const created = JSON.parse((await runTool(CLI, ["create", "--name", "Doomed", "--json"])).stdout);
  assert.equal((await runTool(CLI, ["revoke-key", created.client.id, created.api_key.id])).code, 0);
  const refused = await runTool(CLI, ["delete", created.client.id]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /--yes/);
  const deleted = await runTool(CLI, ["delete", created.client.id, "--yes"]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(await sql("select id from clients where id = $1", [created.client.id]), []);
  assert.deepEqual(
    await sql("select id from api_keys where client_id = $1", [created.client.id]),
    [],
  );
  const actions = await sql<{ action: string }>(
    "select action from audit_log where target_id = $1 or details->>'replacement' = $1 order by id",
    [created.client.id],
  );
  assert.deepEqual(actions.map((a) => a.action), [
    "client.created",
    "client.offboarding_started",
    "client.offboarded",
  ]);
});

Deno.test("client commands explain bad input and --help", async () => {
  const help = await runTool(CLI, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /rotate-key/);
  const bad = await runTool(CLI, ["create", "--name", "x", "--scopes", "messages:everything"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown scope\(s\): messages:everything/);
  const unknown = await runTool(CLI, ["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

Deno.test("client add-number connects a number with its token encrypted, read from the environment only", async () => {
  const created = JSON.parse(
    (await runTool(CLI, ["create", "--name", "Numbered", "--json"])).stdout,
  );
  const id = created.client.id;
  const missing = await runTool(CLI, [
    "add-number",
    id,
    "--waba-id",
    "4401",
    "--phone-number-id",
    "4402",
    "--display-phone-number",
    "+44 20 7946 0000",
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /WHATSAPP_ACCESS_TOKEN/);
  const ok = await runTool(CLI, [
    "add-number",
    id,
    "--waba-id",
    "4401",
    "--phone-number-id",
    "4402",
    "--display-phone-number",
    "+44 20 7946 0000",
  ], { WHATSAPP_ACCESS_TOKEN: "EAAG-cli-secret-token" });
  assert.equal(ok.code, 0, ok.stderr);
  const [row] = await sql<{ access_token_ciphertext: string; phone_number_id: string }>(
    "select w.access_token_ciphertext, p.phone_number_id from whatsapp_business_accounts w join phone_numbers p on p.waba_account_id = w.id where w.client_id = $1",
    [id],
  );
  assert.equal(row.phone_number_id, "4402");
  assert.ok(row.access_token_ciphertext.startsWith("e1."));
  assert.ok(!row.access_token_ciphertext.includes("EAAG"));
  const other = JSON.parse((await runTool(CLI, ["create", "--name", "Thief", "--json"])).stdout);
  const stolen = await runTool(CLI, [
    "add-number",
    other.client.id,
    "--waba-id",
    "4401",
    "--phone-number-id",
    "4403",
    "--display-phone-number",
    "x",
  ], { WHATSAPP_ACCESS_TOKEN: "t" });
  assert.notEqual(stolen.code, 0);
  assert.match(stolen.stderr, /belongs to another client/);
  const [owner] = await sql<{ client_id: string }>(
    "select client_id from whatsapp_business_accounts where waba_id = '4401'",
  );
  assert.equal(owner.client_id, id, "the WABA stayed with its client");
});

Deno.test("client create and rotate-key refuse an expiry in the past or centuries away, before writing anything", async () => {
  const name = `Expiry ${crypto.randomUUID()}`;
  for (const at of ["2000-01-01T00:00:00Z", "9999-01-01T00:00:00Z", "tomorrow"]) {
    const res = await runTool(CLI, ["create", "--name", name, "--expires-at", at]);
    assert.equal(res.code, 2, `${at}: ${res.stderr}`);
    assert.match(res.stderr, /--expires-at: The expiry must be/);
  }
  assert.deepEqual(await sql("select id from clients where name = $1", [name]), []);

  const inADay = new Date(Date.now() + 86_400_000).toISOString();
  const created = await runTool(CLI, ["create", "--name", name, "--expires-at", inADay, "--json"]);
  assert.equal(created.code, 0, created.stderr);
  const { client, api_key } = JSON.parse(created.stdout);
  assert.equal(Date.parse(api_key.expires_at), Date.parse(inADay));

  const past = await runTool(CLI, [
    "rotate-key",
    client.id,
    api_key.id,
    "--expires-at",
    "2020-01-01T00:00:00Z",
  ]);
  assert.equal(past.code, 2, past.stderr);
  assert.match(past.stderr, /already expired/);
  const keys = await sql("select id from api_keys where client_id = $1", [client.id]);
  assert.equal(keys.length, 1, "no replacement was issued");
});

Deno.test("client rotate-key --grace never brings an expired key back", async () => {
  const created = JSON.parse(
    (await runTool(CLI, ["create", "--name", "Lapsed", "--json"])).stdout,
  );
  await sql("update api_keys set expires_at = now() - interval '1 day' where id = $1", [
    created.api_key.id,
  ]);
  const rotated = await runTool(CLI, [
    "rotate-key",
    created.client.id,
    created.api_key.id,
    "--grace",
    "60",
  ]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const [old] = await sql<{ expires_at: Date }>("select expires_at from api_keys where id = $1", [
    created.api_key.id,
  ]);
  assert.ok(
    old.expires_at.getTime() < Date.now(),
    `old key expires ${old.expires_at.toISOString()}`,
  );
  const { call } = await appUnderTest();
  const res = await call("/v1/me", { headers: bearer(created.key), ip: "198.51.100.202" });
  assert.equal(res.status, 401);
});

Deno.test("client create refuses an empty --scopes, a multi-line --name and an absurd --grace", async () => {
  const empty = await runTool(CLI, ["create", "--name", "No scopes", "--scopes", ""]);
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /--scopes names no scope/);
  const badName = await runTool(CLI, ["create", "--name", "two\nlines \u202e"]);
  assert.equal(badName.code, 2, badName.stderr);
  assert.match(badName.stderr, /--name/);
  const created = JSON.parse((await runTool(CLI, ["create", "--name", "Grace", "--json"])).stdout);
  const absurd = await runTool(CLI, [
    "rotate-key",
    created.client.id,
    created.api_key.id,
    "--grace",
    "1e12",
  ]);
  assert.equal(absurd.code, 2, absurd.stderr);
  assert.match(absurd.stderr, /--grace must be a number of minutes from 0 to 43200/);
});
