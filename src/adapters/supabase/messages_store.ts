import type { ContactRef } from "../../ports/contacts.ts";
import type {
  DeadLetter,
  IngestResult,
  MessageFilter,
  MessagePhone,
  MessageStore,
  MessageView,
} from "../../ports/messages.ts";
import { StoreRefused } from "../../ports/store_errors.ts";
import { DatabaseError } from "../../core/errors.ts";
import { checked } from "./checked.ts";
import type { DatabaseAccess } from "./database.ts";
import { refusedForContent } from "./refused.ts";
import { sendCalls } from "./send_calls.ts";

const VIEW_COLUMNS =
  "id, direction, wamid, type, status, recipient, contact_id, error, attempts, dead_lettered_at, retry_of, created_at, sent_at, delivered_at, read_at, failed_at, pricing_category";

/** The filter value of a contact ref on messages: its id, or the recipient it was sent to. */
function contactFilter(ref: ContactRef): [column: string, value: string] {
  if ("id" in ref) return ["contact_id", ref.id];
  return ["recipient", "waId" in ref ? ref.waId : ref.userId];
}

/**
 * Messages in PostgREST, under each client's row-level security. The send calls are grouped per
 * client (send_calls.ts); the options are sendCalls'.
 */
export function messageStore(
  db: DatabaseAccess,
  sends: Parameters<typeof sendCalls>[1],
): MessageStore {
  const calls = sendCalls(db, sends);
  return {
    enqueue: calls.enqueue,
    claim: calls.claim,
    record: calls.record,

    async ingest(clientId, batch) {
      // the plugin deliveries ride in the same transaction; without any, the plain ingest
      const fn = batch.plugin_events?.length ? "ingest_whatsapp_events" : "ingest_whatsapp_batch";
      const { data, error, status } = await db.forClient(clientId).rpc(fn, { batch });
      if (error) {
        const message = `Could not store events for a client: ${error.message}`;
        throw refusedForContent(error, status) ? new StoreRefused(message) : new Error(message);
      }
      return data as IngestResult;
    },

    async list(clientId, filter: MessageFilter) {
      let query = db.forClient(clientId).from("messages").select(VIEW_COLUMNS)
        .eq("client_id", clientId);
      if (filter.status) query = query.eq("status", filter.status);
      if (filter.direction) query = query.eq("direction", filter.direction);
      if (filter.contact) query = query.eq(...contactFilter(filter.contact));
      if (filter.deadLettered === true) query = query.not("dead_lettered_at", "is", null);
      if (filter.deadLettered === false) query = query.is("dead_lettered_at", null);
      if (filter.since) query = query.gte("created_at", filter.since);
      if (filter.until) query = query.lt("created_at", filter.until);
      if (filter.before) {
        // quoted as PostgREST's logic trees expect; the caller checked both values' shapes
        const at = `"${filter.before.createdAt}"`;
        query = query.or(
          `created_at.lt.${at},and(created_at.eq.${at},id.lt.${filter.before.id})`,
        );
      }
      return checked(
        await query.order("created_at", { ascending: false })
          .order("id", { ascending: false }).limit(filter.limit),
        "Could not list messages",
      ) as unknown as MessageView[];
    },

    async get(clientId, id) {
      return checked(
        await db.forClient(clientId).from("messages")
          .select(`${VIEW_COLUMNS}, content_ciphertext`).eq("id", id).maybeSingle(),
        "Could not read the message",
      ) as unknown as (MessageView & { content_ciphertext: string | null }) | null;
    },

    async timeline(clientId, messageId) {
      return checked(
        await db.forClient(clientId).from("message_status_events")
          .select("status, occurred_at, pricing, errors")
          .eq("message_id", messageId).order("occurred_at").order("id"),
        "Could not read the timeline",
      );
    },

    async deadLetter(clientId, id): Promise<DeadLetter | null> {
      const { data, error } = await db.forClient(clientId).from("messages")
        .select(
          "id, type, recipient, content_ciphertext, dead_lettered_at, phone_numbers!inner(phone_number_id)",
        )
        .eq("id", id).eq("direction", "outbound").maybeSingle();
      if (error) throw new Error(`Could not read the message: ${error.message}`);
      if (!data) return null;
      const row = data as unknown as {
        id: string;
        type: string;
        recipient: string | null;
        content_ciphertext: string | null;
        dead_lettered_at: string | null;
        phone_numbers: { phone_number_id: string };
      };
      return {
        id: row.id,
        deadLettered: row.dead_lettered_at !== null,
        type: row.type,
        recipient: row.recipient,
        contentCiphertext: row.content_ciphertext,
        phoneNumberId: row.phone_numbers.phone_number_id,
      };
    },

    async linkRedrive(clientId, redriveId, originalId) {
      // the database accepts only a dead-lettered message of the same client, once
      const { error } = await db.forClient(clientId).from("messages")
        .update({ retry_of: originalId }).eq("id", redriveId).is("retry_of", null);
      if (error) throw new Error(`Could not link the re-drive: ${error.message}`);
    },

    async inboundPhone(clientId, wamid) {
      const { data, error } = await db.forClient(clientId).from("messages")
        .select("phone_numbers!inner(phone_number_id, waba_account_id)")
        .eq("wamid", wamid).eq("direction", "inbound").maybeSingle();
      if (error) throw new DatabaseError("Could not find the message", error);
      return (data?.phone_numbers ?? null) as unknown as MessagePhone | null;
    },

    async mediaPhone(clientId, mediaId) {
      const { data, error } = await db.forClient(clientId).from("messages")
        .select("media, phone_numbers!inner(phone_number_id, waba_account_id)")
        .eq("media->>id", mediaId).limit(1).maybeSingle();
      if (error) throw new DatabaseError("Could not look up the media", error);
      return (data?.phone_numbers ?? null) as unknown as MessagePhone | null;
    },

    async due(limit) {
      const { data, error } = await db.service.rpc("due_outbound_messages", { max_rows: limit });
      if (error) throw new Error(`Sweep of outbound messages failed: ${error.message}`);
      return data as Array<{ id: string; client_id: string }>;
    },
  };
}
