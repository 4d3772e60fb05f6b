import { SignJWT } from "jose";
import { generateMasterKey } from "../../src/core/crypto/envelope.ts";

/** Every secret the local stack needs. Generated once per .dev directory and reused on restart. */
export interface StackSecrets {
  db_password: string;
  authenticator_password: string;
  jwt_secret: string;
  anon_key: string;
  service_role_key: string;
  master_keys: string;
  api_key_pepper: string;
  meta_app_secret: string;
  meta_verify_token: string;
  shopify_api_secret: string;
  graph_access_token: string;
}

const random = (bytes = 24) =>
  crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });

async function roleKey(secret: string, role: string): Promise<string> {
  // Same shape as Supabase's legacy anon/service_role keys: long-lived JWTs naming a role
  return await new SignJWT({ role, iss: "supabase-local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("10y")
    .sign(new TextEncoder().encode(secret));
}

export async function loadOrCreateSecrets(path: string): Promise<StackSecrets> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as StackSecrets;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const jwt_secret = random(48);
  const secrets: StackSecrets = {
    db_password: random(),
    authenticator_password: random(),
    jwt_secret,
    anon_key: await roleKey(jwt_secret, "anon"),
    service_role_key: await roleKey(jwt_secret, "service_role"),
    master_keys: generateMasterKey("v1"),
    api_key_pepper: random(32),
    meta_app_secret: random(24),
    meta_verify_token: random(16),
    shopify_api_secret: random(24),
    graph_access_token: `EMU${random(24)}`,
  };
  await Deno.writeTextFile(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
