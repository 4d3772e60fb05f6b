import assert from "node:assert/strict";
import { ConfigError, EnvSchema, parseEnv } from "../../src/config/env.ts";
import { generateMasterKey } from "../../src/core/crypto/envelope.ts";

const valid = () => ({
  SUPABASE_URL: "https://abc.supabase.co",
  SUPABASE_ANON_KEY: "a".repeat(40),
  SUPABASE_SERVICE_ROLE_KEY: "s".repeat(40),
  SUPABASE_JWT_SECRET: "j".repeat(40),
  MASTER_KEYS: generateMasterKey("v1"),
  API_KEY_PEPPER: "p".repeat(40),
  META_APP_SECRET: "m".repeat(32),
  META_VERIFY_TOKEN: "verify-me",
});

Deno.test("parseEnv() accepts a complete configuration and applies defaults", () => {
  const env = parseEnv(valid());
  assert.equal(env.ENVIRONMENT, "production");
  assert.equal(env.GRAPH_API_BASE_URL, "https://graph.facebook.com");
  assert.equal(env.WEBHOOK_MAX_BODY_BYTES, 3_145_728);
});

Deno.test("parseEnv() names every bad key in one message and never echoes values", () => {
  const bad = {
    ...valid(),
    SUPABASE_URL: "not a url",
    MASTER_KEYS: "v1:short-secret-value",
    META_APP_SECRET: undefined,
    MAX_BODY_BYTES: "lots",
  };
  try {
    parseEnv(bad);
    assert.fail("should throw");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const keys = error.problems.map((p) => p.split(" ")[0]).sort();
    assert.deepEqual(keys, ["MASTER_KEYS", "MAX_BODY_BYTES", "META_APP_SECRET", "SUPABASE_URL"]);
    assert.match(error.message, /META_APP_SECRET is required/);
    assert.ok(!error.message.includes("short-secret-value"));
  }
});

Deno.test("parseEnv() refuses an active master key that is not in the keyring", () => {
  assert.throws(() => parseEnv({ ...valid(), MASTER_KEY_ACTIVE: "v7" }), /MASTER_KEY_ACTIVE/);
});

Deno.test("parseEnv() reads TRUSTED_PROXIES as addresses and ranges and names the key, not the value, when one is not", () => {
  assert.equal(parseEnv(valid()).TRUSTED_PROXIES, "");
  assert.equal(
    parseEnv({ ...valid(), TRUSTED_PROXIES: "10.0.0.0/8, ::1,2001:db8::/32" }).TRUSTED_PROXIES,
    "10.0.0.0/8, ::1,2001:db8::/32",
  );
  for (const bad of ["10.0.0.0/33", "proxy.internal", "10.0.0.1,,*"]) {
    try {
      parseEnv({ ...valid(), TRUSTED_PROXIES: bad });
      assert.fail(`accepted ${bad}`);
    } catch (error) {
      assert.ok(error instanceof ConfigError, bad);
      assert.match(error.message, /TRUSTED_PROXIES must be comma-separated IP addresses/);
      assert.ok(!error.message.includes(bad), "the value is not echoed");
    }
  }
});

Deno.test("every configuration key is documented in .dev.vars.example and README.md", async () => {
  const example = await Deno.readTextFile(new URL("../../.dev.vars.example", import.meta.url));
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const missing = Object.keys(EnvSchema.shape).filter((k) =>
    !new RegExp(`^#? ?${k}=`, "m").test(example) || !readme.includes(`\`${k}\``)
  );
  assert.deepEqual(missing, []);
});

Deno.test("the Deno entry stops with one message naming every bad key", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/entry/deno.ts"],
    env: { SUPABASE_URL: "nope" },
    clearEnv: true,
  }).output();
  assert.equal(out.code, 78);
  const err = new TextDecoder().decode(out.stderr);
  assert.match(err, /SUPABASE_URL must be an absolute URL/);
  assert.match(err, /API_KEY_PEPPER is required/);
  assert.equal(err.trim().split("\n").length, 2, "one message plus where to look");
});
