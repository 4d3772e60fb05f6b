import type { ContactRecord, ContactRef, ContactStore } from "../../ports/contacts.ts";
import { DatabaseError } from "../../core/errors.ts";
import { audit } from "./audit.ts";
import { checked } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";

const COLUMNS =
  "id, wa_id, user_id, profile_name_ciphertext, consent_status, consent_source, consent_updated_at, last_inbound_at, created_at";

/** Contacts in PostgREST, under each client's row-level security. */
export function contactStore(db: DatabaseAccess, now: () => number = Date.now): ContactStore {
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
      const client = db.forClient(clientId);
      let row = await find(clientId, ref);
      if (!row) {
        // an id names a contact that exists; only a number or user id can create one
        if ("id" in ref) return null;
        const created = await client.from("contacts").upsert(
          {
            client_id: clientId,
            ...("waId" in ref ? { wa_id: ref.waId } : { user_id: ref.userId }),
          },
          {
            onConflict: "waId" in ref ? "client_id,wa_id" : "client_id,user_id",
            ignoreDuplicates: true,
          },
        );
        if (created.error) throw new DatabaseError("Could not create the contact", created.error);
        row = (await find(clientId, ref))!;
      }
      const updated = await client.from("contacts").update({
        consent_status: change.status,
        consent_source: change.source,
        consent_updated_at: new Date(now()).toISOString(),
      }).eq("id", row.id).select(COLUMNS).single();
      if (updated.error) throw new DatabaseError("Could not record consent", updated.error);
      const event = await client.from("consent_events").insert({
        client_id: clientId,
        contact_id: row.id,
        status: change.status,
        source: change.source,
        actor: change.actor,
      });
      if (event.error) throw new DatabaseError("Could not record the consent event", event.error);
      await audit(client, {
        clientId,
        actor: change.actor,
        action: `contact.${change.status}`,
        targetType: "contact",
        targetId: row.id,
        details: { source: change.source },
        requestId: change.requestId,
      });
      return { contact: updated.data as ContactRecord, previous: row.consent_status };
    },
  };
}
