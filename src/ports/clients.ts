import type { KeyEnvironment, Scope } from "../core/auth/api_keys.ts";

export interface ClientRecord {
  id: string;
  name: string;
  status: string;
}

/** Clients (tenants), and whether the database answers at all. */
export interface ClientStore {
  /** under the client's row-level security */
  get(clientId: string): Promise<ClientRecord | null>;
  /** cross-tenant: whether a client exists and is active (a user token names it) */
  isActive(clientId: string): Promise<boolean>;
  /** resolves when the database answers within `timeoutMs`, else rejects */
  ping(timeoutMs: number): Promise<void>;
}

export interface ApiKeyRecord {
  id: string;
  client_id: string;
  name: string;
  environment: KeyEnvironment;
  prefix: string;
  scopes: Scope[];
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_by: string;
  created_at: string;
}

export interface StoredKey extends ApiKeyRecord {
  key_hash: string;
  client_status: string;
}

/** API keys: only their keyed hashes are stored. */
export interface ApiKeyStore {
  /** creates a key under the client's row-level security; the key is returned once */
  create(
    clientId: string,
    input: {
      name: string;
      environment: KeyEnvironment;
      scopes: Scope[];
      expiresAt?: string | null;
      createdBy: string;
    },
    now: number,
  ): Promise<{ key: string; record: ApiKeyRecord }>;
  list(clientId: string): Promise<ApiKeyRecord[]>;
  /** null when the client has no live key by that id */
  revoke(clientId: string, keyId: string): Promise<ApiKeyRecord | null>;
  /** cross-tenant: the key whose hash this is, with its client's status */
  findByHash(keyHash: string): Promise<StoredKey | null>;
  /** cross-tenant, best effort */
  touchLastUsed(keyId: string, at: number): Promise<void>;
}
