import type {
  ConsentStatus,
  ContactRecord,
  ContactRef,
  ContactStore,
} from "../../ports/contacts.ts";
import { checked } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

const COLUMNS =
  "id, wa_id, user_id, profile_name_ciphertext, consent_status, consent_source, consent_updated_at, last_inbound_at, created_at";

/** Contacts in PostgREST, under each client's row-level security. */
export function contactStore(db: DatabaseAccess): ContactStore {
  async function find(clientId: string, ref: ContactRef): Promise<ContactRecord | null> {
    const query = db.forClient(clientId).from("contacts").select(COLUMNS);
    return checked(
      await ("id" in ref
        ? query.eq("id", ref.id)
        : "waId" in ref
        ? query.eq("wa_id", ref.waId)
        : query.eq("user_id", ref.userId)).maybeSingle(),
      "Could not read the contact",
    ) as ContactRecord | null;
  }

  return {
    async list(clientId, filter) {
      let query = db.forClient(clientId).from("contacts").select(COLUMNS);
      if (filter.consent) query = query.eq("consent_status", filter.consent);
      return checked(
        await query.order("created_at", { ascending: false })
          .range(filter.offset, filter.offset + filter.limit - 1),
        "Could not list contacts",
      ) as ContactRecord[];
    },
    find,
    async recordConsent(clientId, ref, change) {
      // one transaction: contact, consent, consent history and audit record (public.record_consent)
      const recorded = checked(
        await db.forClient(clientId).rpc("record_consent", {
          contact: "id" in ref
            ? { id: ref.id }
            : "waId" in ref
            ? { wa_id: ref.waId }
            : { user_id: ref.userId },
          consent: {
            status: change.status,
            source: change.source,
            actor: change.actor,
            request_id: change.requestId ?? null,
          },
        }),
        "Could not record consent",
      ) as { contact: ContactRecord; previous: ConsentStatus } | null;
      return recorded;
    },
  };
}
