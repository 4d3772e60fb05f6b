import type { Scope } from "../core/auth/api_keys.ts";
import type { Logger } from "../ports/logger.ts";

export interface Principal {
  clientId: string;
  scopes: ReadonlySet<Scope>;
  /** `api_key:<id>` or `user:<sub>`: who did it, for the audit log */
  actor: string;
  keyId: string | null;
  kind: "api_key" | "user";
}

/** Per-request values the runtime passes as Hono's `env` (Workers bindings, Deno connection info). */
export interface RuntimeBindings {
  /** the socket peer's address (Deno); Workers has none */
  remoteAddr?: string;
  waitUntil?: (promise: Promise<unknown>) => void;
}

export interface AppEnv {
  Bindings: RuntimeBindings;
  Variables: {
    requestId: string;
    logger: Logger;
    /** the client's address (canonical) as the runtime's ClientAddress policy found it, or null */
    clientIp: string | null;
    principal: Principal;
    /**
     * Set by a route whose requests the API request log does not keep: an accepted webhook
     * delivery is recorded in webhook_inbox already, and a health check or Meta's verify
     * handshake reads no client's data (a row for each would make every probe a database write).
     */
    unlogged: boolean;
  };
}
