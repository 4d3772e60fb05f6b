import { createClient } from "@supabase/supabase-js";
import { createApiKey } from "../../src/adapters/supabase/api_keys_store.ts";
import { dataKeys } from "../../src/adapters/supabase/data_keys.ts";
import { importPepper, SCOPES } from "../../src/core/auth/api_keys.ts";
import { encryptField, parseKeyring } from "../../src/core/crypto/envelope.ts";
import type { Stack } from "./mod.ts";

export const DEMO = {
  client_id: "00000000-0000-4000-8000-000000000001",
  waba_id: "102290129340398",
  phone_number_id: "106540352242922",
  shop_domain: "demo-shop.myshopify.com",
} as const;

/**
 * Gives the seeded demo client what cannot live in seed.sql: an API key (only its hash is stored,
 * so the key itself is kept in .dev/demo.json for scripts) and its WhatsApp access token,
 * encrypted with the client's data key exactly as production stores it.
 */
export async function ensureDemoCredentials(
  stack: Stack,
  path: string,
): Promise<{ api_key: string }> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch { /* first run */ }
  const service = createClient(stack.supabaseUrl, stack.secrets.service_role_key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const pepper = await importPepper(stack.secrets.api_key_pepper);
  const { key } = await createApiKey(service, pepper, {
    clientId: DEMO.client_id,
    name: "Local development",
    environment: "test",
    scopes: [...SCOPES],
    createdBy: "operator:dev-stack",
  });
  const keyring = await parseKeyring(stack.secrets.master_keys);
  const dek = await dataKeys({ keyring, service }).forClient(DEMO.client_id);
  const { error } = await service.from("whatsapp_business_accounts").update({
    access_token_ciphertext: await encryptField(
      dek,
      stack.secrets.graph_access_token,
      `wa_token:${DEMO.waba_id}`,
    ),
  }).eq("waba_id", DEMO.waba_id);
  if (error) throw new Error(`Could not store the demo access token: ${error.message}`);
  const demo = { api_key: key };
  await Deno.writeTextFile(path, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo;
}
