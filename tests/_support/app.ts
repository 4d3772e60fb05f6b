import { createApiKey } from "../../src/adapters/supabase/api_keys_store.ts";
import { importPepper, type Scope, SCOPES } from "../../src/core/auth/api_keys.ts";
import { createTestClient, serviceClient, sql, testApp, testStack } from "./stack.ts";

/**
 * A fresh client with one API key holding `scopes` (default: all). With `expiresAt`, the key's
 * expiry is set afterwards, as time passing would: no key can be created already expired.
 */
export async function clientWithKey(
  options: { scopes?: Scope[]; expiresAt?: string; name?: string } = {},
) {
  const clientId = await createTestClient(options.name ?? "HTTP test client");
  const pepper = await importPepper(testStack().secrets.api_key_pepper);
  const { key, record } = await createApiKey(serviceClient(), pepper, {
    clientId,
    name: "test",
    environment: "test",
    scopes: options.scopes ?? [...SCOPES],
    createdBy: "operator:test",
  });
  if (options.expiresAt) {
    await sql("update api_keys set expires_at = $1 where id = $2", [options.expiresAt, record.id]);
  }
  return { clientId, key, keyId: record.id };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Parsed JSON answers, read freely by assertions (a wrong shape fails the assertion that reads it).
 */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** The app plus a `call` helper that parses JSON answers. */
export async function appUnderTest(
  overrides: Record<string, string> = {},
  options: Parameters<typeof testApp>[1] = {},
) {
  const { app, deps } = await testApp(overrides, options);
  const call = async (path: string, init: RequestInit & { ip?: string } = {}) => {
    const res = await app.request(path, init, { remoteAddr: init.ip ?? "198.51.100.7" });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: body as Json };
  };
  return { app, deps, call };
}
