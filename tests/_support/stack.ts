import pg from "pg";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { SignJWT } from "jose";
import { parseEnv } from "../../src/config/env.ts";
import { composeApp, type ComposeOptions } from "../../src/compose.ts";
import { localDoorbell } from "../../src/adapters/deno/local_doorbell.ts";
import { pinnedWebhookEgress } from "../../src/adapters/deno/pinned_webhook_egress.ts";
import { jsonLogger } from "../../src/adapters/logging/json_logger.ts";
import type { StackSecrets } from "../../tools/stack/secrets.ts";

export interface TestStack {
  supabaseUrl: string;
  adminDbUrl: string;
  appEnv: Record<string, string>;
  secrets: StackSecrets;
}

/** The stack `deno task test` started for this run (see tools/test.ts). */
export function testStack(): TestStack {
  const raw = Deno.env.get("GLOOFT_TEST_STACK");
  if (!raw) {
    throw new Error(
      "These tests need the local stack: run them with `deno task test` (add `-- <file>` for one)",
    );
  }
  return JSON.parse(raw);
}

export async function sql<T = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: testStack().adminDbUrl });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } catch (error) {
    throw new Error(`${(error as Error).message}\n  in: ${text}`);
  } finally {
    await client.end();
  }
}

export function serviceClient(): SupabaseClient {
  const s = testStack();
  return createClient(s.supabaseUrl, s.secrets.service_role_key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

/** A JWT as a client of PostgREST would hold it; `claims` override the defaults. */
export async function signJwt(claims: Record<string, unknown>, expiresIn = "5m"): Promise<string> {
  return await new SignJWT({ role: "authenticated", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(testStack().secrets.jwt_secret));
}

/** supabase-js as a tenant would use it directly against the API, with `token` as its JWT. */
export function clientWithToken(token: string | null): SupabaseClient {
  const s = testStack();
  return createClient(s.supabaseUrl, s.secrets.anon_key, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...(token ? { accessToken: () => Promise.resolve(token) } : {}),
  });
}

/** A client with one WhatsApp Business account and one phone number (our ids), seeded through SQL. */
export async function createClientWithPhone(
  name: string,
): Promise<{ clientId: string; phoneId: string; phoneNumberId: string }> {
  const clientId = await createTestClient(name);
  const digits = () => String(Math.floor(1e11 + Math.random() * 8e11));
  const [waba] = await sql<{ id: string }>(
    "insert into whatsapp_business_accounts (client_id, waba_id, name) values ($1, $2, 'w') returning id",
    [clientId, digits()],
  );
  const phoneNumberId = digits();
  const [phone] = await sql<{ id: string }>(
    "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '1555') returning id",
    [clientId, waba.id, phoneNumberId],
  );
  return { clientId, phoneId: phone.id, phoneNumberId };
}

/** How many rows of `table` belong to the client. */
export async function countRows(table: string, clientId: string, where = "true"): Promise<number> {
  const [{ n }] = await sql<{ n: number }>(
    `select count(*)::int as n from ${table} where client_id = $1 and ${where}`,
    [clientId],
  );
  return n;
}

export async function createTestClient(name = "Test client"): Promise<string> {
  const [row] = await sql<{ id: string }>(
    "insert into public.clients (name) values ($1) returning id",
    [name],
  );
  return row.id;
}

/**
 * The real app, composed exactly as the Deno entry does (in-process doorbell), against the test
 * stack. `bell.idle()` waits until every job it rang has run; `bell.close()` stops it.
 */
export async function testApp(
  overrides: Record<string, string> = {},
  options: {
    doorbell?: ComposeOptions["doorbell"];
    fetch?: typeof fetch;
    webhookEgress?: ComposeOptions["webhookEgress"];
  } & Pick<ComposeOptions, "plugins" | "pluginEnv" | "pluginRetryDelaysMs"> = {},
) {
  const env = parseEnv({ ...testStack().appEnv, LOG_LEVEL: "error", ...overrides });
  let bell: ReturnType<typeof localDoorbell> | undefined;
  const composed = await composeApp(env, {
    authCacheSeconds: 0,
    fetch: options.fetch,
    webhookEgress: options.webhookEgress ?? pinnedWebhookEgress(),
    plugins: options.plugins,
    pluginEnv: options.pluginEnv,
    pluginRetryDelaysMs: options.pluginRetryDelaysMs,
    doorbell: options.doorbell ??
      ((handle) => bell = localDoorbell({ handle, logger: silentLogger, concurrency: 16 })),
  });
  return { ...composed, bell: bell ?? null };
}

const silentLogger = jsonLogger({ level: "error", write: () => {} });
