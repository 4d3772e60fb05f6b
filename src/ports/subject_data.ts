/**
 * Reading one subject's data within one client, as that client (its JWT, so RLS applies), for an
 * export or before an erasure. Content comes as stored (ciphertext): decrypting is the caller's
 * job, with the client's data key.
 */
export interface SubjectContact {
  id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name_ciphertext: string | null;
  consent_status: string;
  consent_source: string | null;
  consent_updated_at: string | null;
  last_inbound_at: string | null;
  last_outbound_at: string | null;
  created_at: string;
}

export interface SubjectMessage {
  id: string;
  direction: string;
  type: string;
  status: string;
  wamid: string | null;
  recipient: string | null;
  content_ciphertext: string | null;
  media: unknown;
  error: unknown;
  pricing_category: string | null;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
}

export interface SubjectDataStore {
  contacts(clientId: string, contactIds: string[]): Promise<SubjectContact[]>;
  consentEvents(clientId: string, contactIds: string[]): Promise<unknown[]>;
  /** a page of the subject's messages, oldest first, after `after` (a message id) */
  messages(
    clientId: string,
    contactIds: string[],
    page: { after?: { created_at: string; id: string }; limit: number },
  ): Promise<SubjectMessage[]>;
  statusEvents(clientId: string, messageIds: string[]): Promise<unknown[]>;
  /** a page of the client's webhook deliveries that still hold a body, by id */
  pendingDeliveries(
    clientId: string,
    page: { after?: string; limit: number },
  ): Promise<Array<{ id: string; payload_ciphertext: string }>>;
  /** the client's plugin state whose key or value names one of `needles` (at most 1000 rows) */
  pluginState(clientId: string, needles: string[]): Promise<unknown[]>;
  /** a page of the client's plugin deliveries that still hold an event (pending, parked), by id */
  pluginDeliveriesWithPayload(
    clientId: string,
    page: { after?: string; limit: number },
  ): Promise<Array<{ id: string; payload_ciphertext: string }>>;
  /** the Meta inbox's deliveries set aside with their payload (system data), by id */
  setAsideInbox(page: { after?: number; limit: number }): Promise<
    Array<{ id: number; payload_ciphertext: string }>
  >;
  dropInboxPayloads(ids: number[]): Promise<number>;
}
