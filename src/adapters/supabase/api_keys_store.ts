import type { Db } from "./database.ts";
import {
  generateApiKey,
  hashApiKey,
  type KeyEnvironment,
  keyExpiryProblem,
  type Scope,
} from "../../core/auth/api_keys.ts";
import { AppError } from "../../core/errors.ts";
import type { ApiKeyRecord, ApiKeyStore, StoredKey } from "../../ports/clients.ts";
import { checked as check } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

export type { ApiKeyRecord, StoredKey };

const PUBLIC_COLUMNS =
  "id, client_id, name, environment, prefix, scopes, expires_at, revoked_at, last_used_at, created_by, created_at";

/**
 * Creates a key and returns it once; only its keyed hash is stored. Works with the service client
 * (operator CLI) and with a tenant client (a client managing its own keys under RLS). Every key is
 * created here, so the expiry rule (keyExpiryProblem) holds for the API and the CLI alike: a
 * refused expiry is a 400 AppError.
 */
export async function createApiKey(
  db: Db,
  pepper: CryptoKey,
  input: {
    clientId: string;
    name: string;
    environment: KeyEnvironment;
    scopes: Scope[];
    expiresAt?: string | null;
    createdBy: string;
  },
  now: number = Date.now(),
): Promise<{ key: string; record: ApiKeyRecord }> {
  const problem = keyExpiryProblem(input.expiresAt ?? null, now);
  if (problem) {
    throw new AppError(400, "invalid_request", problem, {
      details: [{ path: "expires_at", message: problem }],
    });
  }
  const { key, prefix } = generateApiKey(input.environment);
  const record = check(
    await db.from("api_keys").insert({
      client_id: input.clientId,
      name: input.name,
      environment: input.environment,
      prefix,
      key_hash: await hashApiKey(pepper, key),
      scopes: input.scopes,
      // as an instant: the offset a caller wrote is not ours to pass on (PostgreSQL refuses some)
      expires_at: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      created_by: input.createdBy,
    }).select(PUBLIC_COLUMNS).single(),
    "Could not create the API key",
  ) as ApiKeyRecord;
  return { key, record };
}

export async function listApiKeys(db: Db, clientId: string): Promise<ApiKeyRecord[]> {
  return check(
    await db.from("api_keys").select(PUBLIC_COLUMNS).eq("client_id", clientId).order("created_at"),
    "Could not list API keys",
  ) as ApiKeyRecord[];
}

/** Revokes a key; returns the record, or null when no such live key exists for the client. */
export async function revokeApiKey(
  db: Db,
  clientId: string,
  keyId: string,
): Promise<ApiKeyRecord | null> {
  const rows = check(
    await db.from("api_keys").update({ revoked_at: new Date().toISOString() })
      .eq("client_id", clientId).eq("id", keyId).is("revoked_at", null).select(PUBLIC_COLUMNS),
    "Could not revoke the API key",
  ) as ApiKeyRecord[];
  return rows[0] ?? null;
}

/** Key lookup by hash: a cross-tenant read, so it needs the service client. */
export async function findApiKeyByHash(
  service: Db,
  keyHash: string,
): Promise<StoredKey | null> {
  const rows = check(
    await service.from("api_keys").select(`${PUBLIC_COLUMNS}, key_hash, clients!inner(status)`)
      .eq("key_hash", keyHash).limit(1),
    "Could not look up the API key",
  ) as unknown as Array<ApiKeyRecord & { key_hash: string; clients: { status: string } }>;
  const row = rows[0];
  if (!row) return null;
  const { clients, ...rest } = row;
  return { ...rest, client_status: clients.status };
}

/** The port: a client's keys under its row-level security; lookups by hash cross tenants. */
export function apiKeyStore(db: DatabaseAccess, pepper: CryptoKey): ApiKeyStore {
  return {
    create: (clientId, input, now) =>
      createApiKey(db.forClient(clientId), pepper, { ...input, clientId }, now),
    list: (clientId) => listApiKeys(db.forClient(clientId), clientId),
    revoke: (clientId, keyId) => revokeApiKey(db.forClient(clientId), clientId, keyId),
    findByHash: (keyHash) => findApiKeyByHash(db.service, keyHash),
    async touchLastUsed(keyId, at) {
      await db.service.from("api_keys").update({ last_used_at: new Date(at).toISOString() })
        .eq("id", keyId);
    },
  };
}
