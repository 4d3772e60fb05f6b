import { checked as check } from "./checked.ts";
import { LegalHoldError, type OffboardingStore } from "../../ports/offboarding.ts";
import type { Db } from "./database.ts";

/** Offboarding over PostgREST, as the service role (it is cross-tenant system work). */
export function offboardingStore(service: Db): OffboardingStore {
  return {
    async start(clientId, requestedBy) {
      const result = await service.rpc("start_client_offboarding", {
        client_id: clientId,
        requested_by: requestedBy,
      });
      if (result.error?.code === "GL423") throw new LegalHoldError(result.error.message);
      return check(result, "Could not start offboarding the client");
    },
    async step(clientId, maxRows) {
      return check(
        await service.rpc("offboard_client_step", { client_id: clientId, max_rows: maxRows }),
        "Could not remove the client's rows",
      );
    },
    async leaving(limit) {
      const rows = check(
        await service.rpc("leaving_clients", { max_rows: limit }),
        "Could not list the clients being offboarded",
      ) as Array<{ client_id: string }>;
      return rows.map((r) => r.client_id);
    },
  };
}
