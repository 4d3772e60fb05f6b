import { PostgrestClient } from "@supabase/postgrest-js";
import { SignJWT } from "jose";
import { storableFetch } from "./storable.ts";

/**
 * What the adapters query: PostgREST through the Supabase gateway. A supabase-js client is one
 * too (tools and tests hand theirs in); the app itself carries only postgrest-js, since auth,
 * storage, realtime and functions were a fifth of the Worker's bundle and never used.
 */
export type Db = Pick<PostgrestClient, "from" | "rpc">;

export interface DatabaseAccess {
  /** service_role: cross-tenant system work only (routing lookups, key lookups, sweeps) */
  readonly service: Db;
  /** A client whose every call runs under `clientId`'s row-level security */
  forClient(clientId: string): Db;
  /**
   * One round trip that reads a row through the gateway and PostgREST (the health check): a bare
   * fetch, as what it reads is never used and postgrest-js's builder cost more than the rest
   * on Workers. Throws when the database does not answer within `timeoutMs`.
   */
  probe(timeoutMs: number): Promise<void>;
}

const TOKEN_TTL_S = 300;
const RENEW_BEFORE_S = 60;

/**
 * Builds the PostgREST clients, each sending the project's API key (what Supabase's gateway
 * asks for) and a bearer token: the service role key, or for a tenant a short-lived JWT minted
 * here (role authenticated, claim client_id) so PostgREST applies that client's RLS policies;
 * tokens are reused until a minute before they expire, so minting costs one HMAC per client per 4
 * minutes.
 */
export function createDatabaseAccess(options: {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  fetch?: typeof fetch;
  now?: () => number;
}): DatabaseAccess {
  const now = options.now ?? Date.now;
  const rest = `${options.url.replace(/\/+$/, "")}/rest/v1`;
  // every body on its way to PostgREST: a string PostgreSQL cannot hold (a NUL, a lone surrogate)
  // would fail the whole statement, whichever table it was for
  const send = storableFetch(options.fetch);
  const service = new PostgrestClient(rest, {
    headers: { apikey: options.serviceRoleKey, Authorization: `Bearer ${options.serviceRoleKey}` },
    fetch: send,
  });
  const clients = new Map<string, Db>();
  // imported once: jose would import a raw secret again for every token
  const secret = crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.jwtSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );

  const tokenSource = (clientId: string) => {
    // the promise is cached, not the string: concurrent first calls must share one signing
    let token: Promise<string> | undefined;
    let expiresAt = 0;
    return () => {
      const nowS = Math.floor(now() / 1000);
      if (token && nowS < expiresAt - RENEW_BEFORE_S) return token;
      expiresAt = nowS + TOKEN_TTL_S;
      token = secret.then((key) =>
        new SignJWT({ role: "authenticated", client_id: clientId })
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .setSubject(clientId)
          .setIssuer("glooft-edge")
          .setAudience("authenticated")
          .setIssuedAt(nowS)
          .setExpirationTime(expiresAt)
          .sign(key)
      );
      token.catch(() => (token = undefined));
      return token;
    };
  };

  const bareFetch = options.fetch ?? fetch;
  const probeUrl = `${rest}/clients?select=id&limit=1`;
  const probeHeaders = {
    apikey: options.serviceRoleKey,
    Authorization: `Bearer ${options.serviceRoleKey}`,
  };

  return {
    service,
    async probe(timeoutMs) {
      const response = await bareFetch(probeUrl, {
        headers: probeHeaders,
        signal: AbortSignal.timeout(timeoutMs),
      });
      // read to the end, so that the connection is kept for the next call
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`The database answered ${response.status}`);
    },
    forClient(clientId) {
      let client = clients.get(clientId);
      if (!client) {
        const token = tokenSource(clientId);
        client = new PostgrestClient(rest, {
          headers: { apikey: options.anonKey },
          // postgrest-js hands headers as a plain object
          fetch: async (input, init) =>
            send(input, {
              ...init,
              headers: {
                ...init?.headers as Record<string, string>,
                Authorization: `Bearer ${await token()}`,
              },
            }),
        });
        if (clients.size > 5000) clients.clear();
        clients.set(clientId, client);
      }
      return client;
    },
  };
}
