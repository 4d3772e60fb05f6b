import type { DatabaseAccess } from "./database.ts";
import { checked as check } from "./checked.ts";
import type { SubjectContact, SubjectDataStore, SubjectMessage } from "../../ports/subject_data.ts";

const CONTACT_COLUMNS =
  "id, wa_id, user_id, profile_name_ciphertext, consent_status, consent_source, consent_updated_at, last_inbound_at, last_outbound_at, created_at";
const MESSAGE_COLUMNS =
  "id, direction, type, status, wamid, recipient, content_ciphertext, media, error, pricing_category, created_at, sent_at, delivered_at, read_at, failed_at";
/** PostgREST puts `in.(…)` lists in the URL: a few hundred ids per call keeps it short */
const IDS_PER_CALL = 200;

function chunks<T>(items: T[], size = IDS_PER_CALL): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One subject's data within one client, read under that client's RLS. */
export function subjectDataStore(db: DatabaseAccess): SubjectDataStore {
  return {
    async contacts(clientId, contactIds) {
      const out: SubjectContact[] = [];
      for (const ids of chunks(contactIds)) {
        out.push(...check(
          await db.forClient(clientId).from("contacts").select(CONTACT_COLUMNS).in("id", ids),
          "Could not read the subject's contacts",
        ) as SubjectContact[]);
      }
      return out;
    },

    async consentEvents(clientId, contactIds) {
      const out: unknown[] = [];
      for (const ids of chunks(contactIds)) {
        out.push(...check(
          await db.forClient(clientId).from("consent_events")
            .select("contact_id, status, source, actor, created_at").in("contact_id", ids)
            .order("id"),
          "Could not read the subject's consent history",
        ) as unknown[]);
      }
      return out;
    },

    async messages(clientId, contactIds, page) {
      if (!contactIds.length) return [];
      let query = db.forClient(clientId).from("messages").select(MESSAGE_COLUMNS)
        .in("contact_id", contactIds.slice(0, IDS_PER_CALL));
      if (page.after) {
        // keyset: strictly after the last (created_at, id) of the previous page
        query = query.or(
          `created_at.gt."${page.after.created_at}",` +
            `and(created_at.eq."${page.after.created_at}",id.gt.${page.after.id})`,
        );
      }
      return check(
        await query.order("created_at").order("id").limit(page.limit),
        "Could not read the subject's messages",
      ) as SubjectMessage[];
    },

    async statusEvents(clientId, messageIds) {
      const out: unknown[] = [];
      for (const ids of chunks(messageIds)) {
        out.push(...check(
          await db.forClient(clientId).from("message_status_events")
            .select("message_id, wamid, status, occurred_at, pricing, errors, conversation_id")
            .in("message_id", ids).order("id"),
          "Could not read the subject's status events",
        ) as unknown[]);
      }
      return out;
    },

    async pendingDeliveries(clientId, page) {
      let query = db.forClient(clientId).from("webhook_deliveries").select("id, payload_ciphertext")
        .not("payload_ciphertext", "is", null);
      if (page.after) query = query.gt("id", page.after);
      return check(
        await query.order("id").limit(page.limit),
        "Could not read webhook deliveries",
      ) as Array<{ id: string; payload_ciphertext: string }>;
    },

    async pluginState(clientId, needles) {
      if (!needles.length) return [];
      return check(
        await db.forClient(clientId).rpc("plugin_state_naming", { needles }),
        "Could not read plugin state",
      ) as unknown[];
    },

    async pluginDeliveriesWithPayload(clientId, page) {
      let query = db.forClient(clientId).from("plugin_deliveries").select("id, payload_ciphertext")
        .not("payload_ciphertext", "is", null);
      if (page.after) query = query.gt("id", page.after);
      return check(
        await query.order("id").limit(page.limit),
        "Could not read plugin deliveries",
      ) as Array<{ id: string; payload_ciphertext: string }>;
    },

    async setAsideInbox(page) {
      let query = db.service.from("webhook_inbox").select("id, payload_ciphertext")
        .not("payload_ciphertext", "is", null).not("processed_at", "is", null);
      if (page.after !== undefined) query = query.gt("id", page.after);
      return check(
        await query.order("id").limit(page.limit),
        "Could not read the webhook inbox",
      ) as Array<{ id: number; payload_ciphertext: string }>;
    },

    async dropInboxPayloads(ids) {
      let dropped = 0;
      for (const batch of chunks(ids)) {
        const rows = check(
          await db.service.from("webhook_inbox").update({ payload_ciphertext: null })
            .in("id", batch).not("processed_at", "is", null).select("id"),
          "Could not drop webhook payloads",
        ) as unknown[];
        dropped += rows.length;
      }
      return dropped;
    },
  };
}
