/**
 * Micro-benchmarks of the per-request work that does not wait on the network (deno task bench).
 * Figures and how to read them: docs/benchmarks.md.
 */
import { composeApp } from "../src/compose.ts";
import { parseEnv } from "../src/config/env.ts";
import { generateApiKey, hashApiKey, importPepper } from "../src/core/auth/api_keys.ts";
import { decryptField, encryptField } from "../src/core/crypto/envelope.ts";

const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n)).toBase64();
const ENV = {
  SUPABASE_URL: "http://127.0.0.1:9",
  SUPABASE_ANON_KEY: bytes(30),
  SUPABASE_SERVICE_ROLE_KEY: bytes(30),
  SUPABASE_JWT_SECRET: bytes(40),
  MASTER_KEYS: `v1:${bytes(32)}`,
  API_KEY_PEPPER: bytes(40),
  META_APP_SECRET: bytes(20),
  META_VERIFY_TOKEN: bytes(12),
  LOG_LEVEL: "error",
};

const pepper = await importPepper(ENV.API_KEY_PEPPER);
const { key } = generateApiKey("live");
const dataKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
]);
const token = "EAAG" + "x".repeat(196);
const sealed = await encryptField(dataKey, token, "wa_token:102290129340398");

Deno.bench("hashApiKey: HMAC-SHA256 of an API key under the pepper", async () => {
  await hashApiKey(pepper, key);
});

Deno.bench("encryptField: AES-256-GCM of a 200-character access token", async () => {
  await encryptField(dataKey, token, "wa_token:102290129340398");
});

Deno.bench("decryptField: the same token back", async () => {
  await decryptField(dataKey, sealed, "wa_token:102290129340398");
});

Deno.bench("parseEnv: the whole configuration through zod", () => {
  parseEnv(ENV);
});

Deno.bench("composeApp: what a cold Worker isolate runs on its first request", async () => {
  await composeApp(parseEnv(ENV), { doorbell: () => ({ ring: () => Promise.resolve() }) });
});
