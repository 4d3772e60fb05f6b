import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { SignJWT } from "jose";
import { storableFetch } from "./storable.ts";

export interface DatabaseAccess {
  /** service_role: cross-tenant system work only (routing lookups, key lookups, sweeps) */
  readonly service: SupabaseClient;
  /** A client whose every call runs under `clientId`'s row-level security */
  forClient(clientId: string): SupabaseClient;
}

const TOKEN_TTL_S = 300;
const RENEW_BEFORE_S = 60;

/**
 * Builds supabase-js clients. Tenant clients carry a short-lived JWT minted here (role
 * authenticated, claim client_id) so PostgREST applies that client's RLS policies; tokens are
 * reused until a minute before they expire, so minting costs one HMAC per client per 4 minutes.
 */
export function createDatabaseAccess(options: {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  fetch?: typeof fetch;
  now?: () => number;
}): DatabaseAccess {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const now = options.now ?? Date.now;
  const base = {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // every body on its way to PostgREST: a string PostgreSQL cannot hold (a NUL, a lone
    // surrogate) would fail the whole statement, whichever table it was for
    global: { fetch: storableFetch(options.fetch) },
  };
  const service = createClient(options.url, options.serviceRoleKey, base);
  const clients = new Map<string, SupabaseClient>();

  const tokenSource = (clientId: string) => {
    // the promise is cached, not the string: concurrent first calls must share one signing
    let token: Promise<string> | undefined;
    let expiresAt = 0;
    return () => {
      const nowS = Math.floor(now() / 1000);
      if (token && nowS < expiresAt - RENEW_BEFORE_S) return token;
      expiresAt = nowS + TOKEN_TTL_S;
      token = new SignJWT({ role: "authenticated", client_id: clientId })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(clientId)
        .setIssuer("glooft-edge")
        .setAudience("authenticated")
        .setIssuedAt(nowS)
        .setExpirationTime(expiresAt)
        .sign(secret);
      token.catch(() => (token = undefined));
      return token;
    };
  };

  return {
    service,
    forClient(clientId) {
      let client = clients.get(clientId);
      if (!client) {
        client = createClient(options.url, options.anonKey, {
          ...base,
          accessToken: tokenSource(clientId),
        });
        if (clients.size > 5000) clients.clear();
        clients.set(clientId, client);
      }
      return client;
    },
  };
}
