import type { Db } from "./database.ts";
import {
  createDataKey,
  type Keyring,
  rewrapDataKey,
  unwrapDataKey,
} from "../../core/crypto/envelope.ts";
import type { DataKeys } from "../../ports/data_keys.ts";

/**
 * Per-client data keys: created on first use, unwrapped once per isolate and cached.
 * Reads go through the tenant client (RLS lets a client read its own wrapped key, which is useless
 * without the master keyring); creation needs the service client since clients may not write keys.
 */
export function dataKeys(options: {
  keyring: Keyring;
  service: Db;
}): DataKeys & { rewrapAll(): Promise<{ rewrapped: number; total: number; failed: string[] }> } {
  const cache = new Map<string, Promise<CryptoKey>>();

  async function load(clientId: string): Promise<CryptoKey> {
    const { data, error } = await options.service.from("client_data_keys")
      .select("wrapped_key, master_key_version").eq("client_id", clientId).maybeSingle();
    if (error) throw new Error(`Could not read the data key: ${error.message}`);
    if (data) {
      return await unwrapDataKey(options.keyring, {
        wrapped: data.wrapped_key,
        masterKeyVersion: data.master_key_version,
      }, clientId);
    }
    const created = await createDataKey(options.keyring, clientId);
    const inserted = await options.service.from("client_data_keys").insert({
      client_id: clientId,
      wrapped_key: created.stored.wrapped,
      master_key_version: created.stored.masterKeyVersion,
    });
    // Two isolates racing to create the first key: the loser reads the winner's
    if (inserted.error?.code === "23505") return load(clientId);
    if (inserted.error) throw new Error(`Could not store the data key: ${inserted.error.message}`);
    return created.key;
  }

  return {
    forClient(clientId: string): Promise<CryptoKey> {
      let key = cache.get(clientId);
      if (!key) {
        key = load(clientId);
        key.catch(() => cache.delete(clientId));
        cache.set(clientId, key);
      }
      return key;
    },
    forget(clientId: string) {
      cache.delete(clientId);
    },
    /**
     * Re-wraps every data key not yet under the active master key. Safe to run while serving:
     * each row is updated only if it still holds the version read (optimistic check).
     */
    async rewrapAll(): Promise<{ rewrapped: number; total: number; failed: string[] }> {
      const { data, error } = await options.service.from("client_data_keys")
        .select("client_id, wrapped_key, master_key_version");
      if (error) throw new Error(`Could not list data keys: ${error.message}`);
      let rewrapped = 0;
      // one unreadable key must not stop the rotation of the others: report it instead
      const failed: string[] = [];
      for (const row of data) {
        if (row.master_key_version === options.keyring.active) continue;
        let next;
        try {
          next = await rewrapDataKey(options.keyring, {
            wrapped: row.wrapped_key,
            masterKeyVersion: row.master_key_version,
          }, row.client_id);
        } catch {
          failed.push(row.client_id);
          continue;
        }
        const update = await options.service.from("client_data_keys").update({
          wrapped_key: next.wrapped,
          master_key_version: next.masterKeyVersion,
          rewrapped_at: new Date().toISOString(),
        }).eq("client_id", row.client_id).eq("wrapped_key", row.wrapped_key);
        if (update.error) throw new Error(`Could not re-wrap a data key: ${update.error.message}`);
        rewrapped++;
      }
      return { rewrapped, total: data.length, failed };
    },
  };
}

export type SupabaseDataKeys = ReturnType<typeof dataKeys>;
