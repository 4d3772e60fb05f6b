import { parseArgs } from "node:util";
import {
  createApiKey,
  listApiKeys,
  revokeApiKey,
} from "../src/adapters/supabase/api_keys_store.ts";
import { audit } from "../src/adapters/supabase/audit.ts";
import { dataKeys } from "../src/adapters/supabase/data_keys.ts";
import {
  importPepper,
  keyExpiryProblem,
  MAX_KEY_LIFETIME_YEARS,
  type Scope,
  SCOPES,
} from "../src/core/auth/api_keys.ts";
import { encryptField, parseKeyring } from "../src/core/crypto/envelope.ts";
import { AppError, DatabaseError } from "../src/core/errors.ts";
import { offboardingStore } from "../src/adapters/supabase/offboarding_store.ts";
import { LegalHoldError } from "../src/ports/offboarding.ts";
import { offboardClient } from "../src/services/client_offboarding.ts";
import { isUuid } from "../src/core/ids.ts";
import { isLabel } from "../src/core/text.ts";
import { operatorEnv, requireKeys, serviceClientFrom } from "./cli_env.ts";

/** a replaced key keeps working for at most this long: a rotation is not a second key */
const MAX_GRACE_MINUTES = 30 * 24 * 60;

const HELP = `deno task client <command> [options]

Manage client businesses and their API keys (operator tool; uses the service role).

Commands:
  create --name NAME [--scopes a,b] [--test] [--expires-at TIME]
                                                create a client and its first API key
  list                                          list clients with their keys
  rotate-key CLIENT_ID KEY_ID [--grace MIN] [--expires-at TIME]
                                                issue a replacement key; the old one expires
                                                after MIN minutes (default 0: at once; at most
                                                ${MAX_GRACE_MINUTES}; never later than it would have)
  revoke-key CLIENT_ID KEY_ID                   revoke a key at once
  add-number CLIENT_ID --waba-id W --phone-number-id P --display-phone-number D [--token-env VAR]
                                                connect a WhatsApp Business account and number;
                                                the access token is read from $VAR (default
                                                WHATSAPP_ACCESS_TOKEN), never from the command
                                                line, and stored encrypted with the client's key
  delete CLIENT_ID --yes [--batch N]            offboard a client: crypto-shred its data key
                                                first, then remove everything it owns, N rows
                                                at a time (default 5000), with a record in
                                                privacy.client_offboardings; refused while a
                                                legal hold covers it. Interrupted, it is carried
                                                on by the next sweep or by running it again

Options:
  --expires-at  when the new key stops working: an ISO 8601 time with an offset, at least a
                minute from now and within ${MAX_KEY_LIFETIME_YEARS} years (default: no expiry)
  --dir PATH    work on the local stack running from PATH (default: .dev, when SUPABASE_URL and
                SUPABASE_SERVICE_ROLE_KEY are not exported)
  --json        machine-readable output
  -h, --help    show this help

Scopes: ${SCOPES.join(", ")}
Configuration: SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, API_KEY_PEPPER from the environment, or
else the local stack \`deno task dev\` runs (its URL and keys from its stack dir, whatever ports it
took; refused when it is not running). Which one is used is printed on stderr.`;

function fail(message: string, code = 2): never {
  console.error(`client: ${message}`);
  Deno.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      scopes: { type: "string" },
      test: { type: "boolean", default: false },
      grace: { type: "string", default: "0" },
      "expires-at": { type: "string" },
      "waba-id": { type: "string" },
      "phone-number-id": { type: "string" },
      "display-phone-number": { type: "string" },
      "token-env": { type: "string", default: "WHATSAPP_ACCESS_TOKEN" },
      yes: { type: "boolean", default: false },
      batch: { type: "string", default: "5000" },
      dir: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  fail(`${(error as Error).message}. See \`deno task client --help\``);
}
const { values: opts, positionals } = parsed;
const [command, ...rest] = positionals;
if (opts.help || !command) {
  console.log(HELP);
  Deno.exit(opts.help ? 0 : 2);
}

const env = await operatorEnv("client", opts.dir);
requireKeys(env, ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "API_KEY_PEPPER"]);
const db = serviceClientFrom(env);
const pepper = await importPepper(env.API_KEY_PEPPER);
const actor = `operator:${Deno.env.get("USER") ?? "cli"}`;
const out = (value: unknown, text: string) =>
  console.log(opts.json ? JSON.stringify(value, null, 2) : text);

function parseScopes(raw: string | undefined): Scope[] {
  if (raw === undefined) return [...SCOPES];
  const scopes = [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
  // `--scopes ""` is a mistake, not a request for every scope (nor for a key that can do nothing)
  if (!scopes.length) fail(`--scopes names no scope. Valid: ${SCOPES.join(", ")}`);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length) fail(`unknown scope(s): ${bad.join(", ")}. Valid: ${SCOPES.join(", ")}`);
  return scopes as Scope[];
}

/** --expires-at, checked by the rule every key creation applies, before anything is written */
function parseExpiry(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const problem = keyExpiryProblem(raw, Date.now());
  if (problem) fail(`--expires-at: ${problem}`);
  return raw;
}

/** createApiKey, with a refusal it explains (an AppError) as a CLI error rather than a crash */
async function newKey(input: Parameters<typeof createApiKey>[2]) {
  try {
    return await createApiKey(db, pepper, input);
  } catch (error) {
    if (error instanceof AppError) fail(error.message, 1);
    throw error;
  }
}

function ids(count: number): string[] {
  const got = rest.slice(0, count);
  if (got.length < count || got.some((id) => !isUuid(id))) {
    fail(`${command} needs ${count === 1 ? "a client id" : "a client id and a key id"} (UUIDs)`);
  }
  return got;
}

switch (command) {
  case "create": {
    const name = opts.name?.trim();
    if (!name) fail("create needs --name");
    if ([...name].length > 200 || !isLabel(name)) {
      fail("--name must be one line of at most 200 characters, without control characters");
    }
    const scopes = parseScopes(opts.scopes);
    const expiresAt = parseExpiry(opts["expires-at"]);
    const { data: client, error } = await db.from("clients").insert({ name })
      .select("id, name").single();
    if (error) fail(`could not create the client: ${error.message}`, 1);
    const { key, record } = await newKey({
      clientId: client.id,
      name: "Initial key",
      environment: opts.test ? "test" : "live",
      scopes,
      expiresAt,
      createdBy: actor,
    });
    await audit(db, {
      clientId: client.id,
      actor,
      action: "client.created",
      targetType: "client",
      targetId: client.id,
    });
    out(
      { client, api_key: record, key },
      `Created client ${client.name} (${client.id})\nAPI key (shown once, store it now): ${key}\nScopes: ${
        scopes.join(", ")
      }`,
    );
    break;
  }
  case "list": {
    const { data: clients, error } = await db.from("clients").select("id, name, status, created_at")
      .order("created_at");
    if (error) fail(`could not list clients: ${error.message}`, 1);
    const withKeys = await Promise.all(
      clients.map(async (c) => ({ ...c, api_keys: await listApiKeys(db, c.id) })),
    );
    out(
      withKeys,
      withKeys.map((c) =>
        [
          `${c.id}  ${c.status.padEnd(9)} ${c.name}`,
          ...c.api_keys.map((k) =>
            `    key ${k.id}  ${k.prefix}…  ${
              k.revoked_at ? "revoked" : k.expires_at ? `expires ${k.expires_at}` : "active"
            }  [${k.scopes.join(", ")}]`
          ),
        ].join("\n")
      ).join("\n") || "No clients yet. Create one with `deno task client create --name NAME`.",
    );
    break;
  }
  case "rotate-key": {
    const [clientId, keyId] = ids(2);
    const grace = Number(opts.grace);
    if (!Number.isFinite(grace) || grace < 0 || grace > MAX_GRACE_MINUTES) {
      fail(`--grace must be a number of minutes from 0 to ${MAX_GRACE_MINUTES}`);
    }
    const expiresAt = parseExpiry(opts["expires-at"]);
    const old = (await listApiKeys(db, clientId)).find((k) => k.id === keyId && !k.revoked_at);
    if (!old) fail(`no active key ${keyId} for client ${clientId}`, 1);
    const { key, record } = await newKey({
      clientId,
      name: old.name,
      environment: old.environment,
      scopes: old.scopes,
      expiresAt,
      createdBy: actor,
    });
    // the grace period only ever shortens the old key's life: an expired key stays expired
    const until = grace === 0 ? null : new Date(
      Math.min(
        Date.now() + grace * 60_000,
        old.expires_at ? Date.parse(old.expires_at) : Infinity,
      ),
    ).toISOString();
    if (until === null) await revokeApiKey(db, clientId, keyId);
    else {
      const { error } = await db.from("api_keys").update({ expires_at: until }).eq("id", keyId);
      if (error) {
        fail(`new key created, but the old one could not be set to expire: ${error.message}`, 1);
      }
    }
    await audit(db, {
      clientId,
      actor,
      action: "api_key.rotated",
      targetType: "api_key",
      targetId: keyId,
      details: { replacement: record.id, grace_minutes: grace },
    });
    out(
      { api_key: record, key, old_key_id: keyId },
      `New key (shown once): ${key}\nOld key ${keyId} ${until ? `expires at ${until}` : "revoked"}`,
    );
    break;
  }
  case "revoke-key": {
    const [clientId, keyId] = ids(2);
    const record = await revokeApiKey(db, clientId, keyId);
    if (!record) fail(`no active key ${keyId} for client ${clientId}`, 1);
    await audit(db, {
      clientId,
      actor,
      action: "api_key.revoked",
      targetType: "api_key",
      targetId: keyId,
    });
    out({ api_key: record }, `Revoked key ${keyId}`);
    break;
  }
  case "add-number": {
    const [clientId] = ids(1);
    const waba = opts["waba-id"];
    const phone = opts["phone-number-id"];
    const display = opts["display-phone-number"];
    if (!waba || !/^[0-9]{1,32}$/.test(waba)) fail("add-number needs --waba-id (digits)");
    if (!phone || !/^[0-9]{1,32}$/.test(phone)) fail("add-number needs --phone-number-id (digits)");
    if (!display) fail("add-number needs --display-phone-number");
    const token = Deno.env.get(opts["token-env"]);
    if (!token) fail(`export the business access token as ${opts["token-env"]} first`);
    requireKeys(env, ["MASTER_KEYS"]);
    // a WABA or number already connected to another client is never moved by this command
    const owners = await Promise.all([
      db.from("whatsapp_business_accounts").select("client_id").eq("waba_id", waba).maybeSingle(),
      db.from("phone_numbers").select("client_id").eq("phone_number_id", phone).maybeSingle(),
    ]);
    for (const [what, res] of [["WABA", owners[0]], ["phone number", owners[1]]] as const) {
      if (res.error) fail(`could not check the ${what}: ${res.error.message}`, 1);
      if (res.data && res.data.client_id !== clientId) {
        fail(`${what} already belongs to another client; disconnect it there first`, 1);
      }
    }
    const keyring = await parseKeyring(env.MASTER_KEYS, env.MASTER_KEY_ACTIVE || undefined);
    const dek = await dataKeys({ keyring, service: db }).forClient(clientId);
    const account = await db.from("whatsapp_business_accounts").upsert({
      client_id: clientId,
      waba_id: waba,
      access_token_ciphertext: await encryptField(dek, token, `wa_token:${waba}`),
    }, { onConflict: "waba_id" }).select("id, client_id").single();
    if (account.error) fail(`could not store the account: ${account.error.message}`, 1);
    const number = await db.from("phone_numbers").upsert({
      client_id: clientId,
      waba_account_id: account.data.id,
      phone_number_id: phone,
      display_phone_number: display,
    }, { onConflict: "phone_number_id" }).select("id").single();
    if (number.error) fail(`could not store the phone number: ${number.error.message}`, 1);
    await audit(db, {
      clientId,
      actor,
      action: "whatsapp_number.connected",
      targetType: "phone_number",
      targetId: phone,
      details: { waba_id: waba },
    });
    out(
      { waba_account_id: account.data.id, phone_number_id: phone },
      `Connected WABA ${waba} and phone number ${phone} (${display}); the token is stored encrypted`,
    );
    break;
  }
  case "delete": {
    const [clientId] = ids(1);
    if (!opts.yes) fail("delete removes every row the client owns and cannot be undone; add --yes");
    const batch = Number(opts.batch);
    if (!Number.isInteger(batch) || batch < 1 || batch > 50_000) {
      fail("--batch must be a whole number of rows from 1 to 50000");
    }
    let offboarded;
    try {
      offboarded = await offboardClient(offboardingStore(db), clientId, {
        requestedBy: actor,
        batch,
        onProgress: (removed) =>
          !opts.json && console.error(
            `removed ${Object.entries(removed).map(([t, n]) => `${n} ${t}`).join(", ")}`,
          ),
      });
    } catch (error) {
      if (error instanceof LegalHoldError) fail(error.message, 1);
      if (error instanceof DatabaseError && error.code === "P0002") {
        fail(`no client ${clientId}`, 1);
      }
      throw error;
    }
    const removed = Object.values(offboarded.total).reduce((a, b) => a + b, 0);
    out(
      { deleted: { id: clientId }, offboarding: offboarded.record, removed: offboarded.total },
      `Deleted client ${clientId}: its data key was shredded at ${offboarded.record.key_shredded_at}` +
        `, then ${removed} rows were removed (record in privacy.client_offboardings)`,
    );
    break;
  }
  default:
    fail(`unknown command "${command}". See \`deno task client --help\``);
}
