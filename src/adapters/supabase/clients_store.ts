import type { ClientStore } from "../../ports/clients.ts";
import { checked } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

/** Clients in PostgREST. */
export function clientStore(db: DatabaseAccess): ClientStore {
  return {
    async get(clientId) {
      return checked(
        await db.forClient(clientId).from("clients").select("id, name, status")
          .eq("id", clientId).maybeSingle(),
        "Could not read the client",
      );
    },
    async isActive(clientId) {
      const { data, error } = await db.service.from("clients").select("status")
        .eq("id", clientId).maybeSingle();
      if (error) throw new Error(`Could not look up the client: ${error.message}`);
      return data?.status === "active";
    },
    ping: (timeoutMs) => db.probe(timeoutMs),
  };
}
