import type { ContactRef } from "./contacts.ts";
import type { SendingPhone } from "./jobs.ts";
import type { NewPluginDelivery } from "./plugins.ts";

/** A message row as the send pipeline reads it (public.messages). */
export interface MessageRow {
  id: string;
  client_id: string;
  phone_number_id: string;
  contact_id: string | null;
  direction: "inbound" | "outbound";
  wamid: string | null;
  type: string;
  content_ciphertext: string | null;
  status: string;
  recipient: string | null;
  attempts: number;
  error: unknown;
  created_at: string;
  /** the dead-lettered message this one sends again */
  retry_of?: string | null;
}

/** One message to queue, its content already encrypted (see public.enqueue_messages). */
export interface OutboundRequest {
  id: string;
  /** Meta's id of the sending number; null: the client's only number */
  phone_number_id: string | null;
  wa_id: string | null;
  user_id: string | null;
  type: string;
  content_ciphertext: string;
  free_form: boolean;
  idempotency_key: string | null;
  request_hash: string | null;
}

/** The enqueue's answer for one request (`outcome` names which rule decided it). */
export interface EnqueueAnswer {
  outcome: string;
  message?: MessageRow;
  last_inbound_at?: string | null;
  error?: string;
  claim?: { outcome: "claimed"; phone: SendingPhone } | { outcome: "deferred"; retry_at: string };
}

/** A claim's answer: `claimed` with the message and its number, or why not. */
export interface ClaimAnswer {
  outcome: string;
  retry_at?: string;
  message?: unknown;
  phone?: SendingPhone;
}

/**
 * One client's share of walked Meta deliveries, as public.ingest_whatsapp_batch stores it under
 * the client's row-level security. `plugin_events` are plugin deliveries of its inbound messages,
 * recorded in the same transaction, each only if its message is new.
 */
export interface IngestBatch {
  messages: Record<string, unknown>[];
  statuses: Record<string, unknown>[];
  fields: Record<string, unknown>[];
  plugin_events?: Array<NewPluginDelivery & { message_id: string }>;
}

export interface IngestResult {
  /** ids of the inbound messages that were new */
  inserted: string[];
  /** each new status event as public.apply_status_events answers it */
  statuses: Array<Record<string, unknown>>;
  /** ids of the plugin deliveries recorded (those of new messages) */
  plugin_events?: string[];
}

/** The columns a list or a single read answers with (never the content ciphertext). */
export interface MessageView {
  id: string;
  direction: "inbound" | "outbound";
  wamid: string | null;
  type: string;
  status: string;
  recipient: string | null;
  contact_id: string | null;
  error: unknown;
  attempts: number;
  dead_lettered_at: string | null;
  retry_of: string | null;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
  pricing_category: string | null;
}

export interface MessageFilter {
  status?: string;
  direction?: "inbound" | "outbound";
  contact?: ContactRef;
  deadLettered?: boolean;
  since?: string;
  until?: string;
  /** keyset pagination: rows strictly before this one (newest first) */
  before?: { createdAt: string; id: string };
  limit: number;
}

/**
 * What a re-drive needs of a dead-lettered message. Recipient and content may be null: the schema
 * allows it, and the client-scoped token the edge mints for a request can write that client's rows.
 */
export interface DeadLetter {
  id: string;
  deadLettered: boolean;
  type: string;
  recipient: string | null;
  contentCiphertext: string | null;
  /** Meta's id of the number that sent it */
  phoneNumberId: string;
}

/** The number a message went through, with the account whose token speaks for it. */
export interface MessagePhone {
  phone_number_id: string;
  waba_account_id: string;
}

/**
 * Messages and their statuses. Every call runs under the named client's row-level security. The
 * send pipeline's calls (enqueue, claim, record) and the ingest are set-based in SQL, and the
 * adapter shares one round trip between concurrent calls of one client (group commit): a
 * service calls them per message and pays per batch.
 */
export interface MessageStore {
  enqueue(clientId: string, request: OutboundRequest): Promise<EnqueueAnswer>;
  claim(clientId: string, messageId: string): Promise<ClaimAnswer>;
  record(clientId: string, messageId: string, result: Record<string, unknown>): Promise<unknown>;
  /** throws StoreRefused when the database refused what the batch carried */
  ingest(clientId: string, batch: IngestBatch): Promise<IngestResult>;

  list(clientId: string, filter: MessageFilter): Promise<MessageView[]>;
  /** one message with its content (encrypted), or null */
  get(
    clientId: string,
    id: string,
  ): Promise<(MessageView & { content_ciphertext: string | null }) | null>;
  timeline(clientId: string, messageId: string): Promise<
    Array<{ status: string; occurred_at: string; pricing: unknown; errors: unknown }>
  >;
  deadLetter(clientId: string, id: string): Promise<DeadLetter | null>;
  /** records that `redriveId` sends `originalId` again; a message already linked keeps its link */
  linkRedrive(clientId: string, redriveId: string, originalId: string): Promise<void>;
  /** the number an inbound message arrived at, by its wamid */
  inboundPhone(clientId: string, wamid: string): Promise<MessagePhone | null>;
  /** the number a media id arrived at, in one of the client's messages */
  mediaPhone(clientId: string, mediaId: string): Promise<MessagePhone | null>;
  /** cross-tenant (sweeper): outbound messages due to be sent, in turns per client */
  due(limit: number): Promise<Array<{ id: string; client_id: string }>>;
}
