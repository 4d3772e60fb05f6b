/** How a contact is named: our id, its WhatsApp number (wa_id) or its business-scoped user id. */
export type ContactRef = { id: string } | { waId: string } | { userId: string };

export type ConsentStatus = "unknown" | "opted_in" | "opted_out";

export interface ContactRecord {
  id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name_ciphertext: string | null;
  consent_status: ConsentStatus;
  consent_source: string | null;
  consent_updated_at: string | null;
  last_inbound_at: string | null;
  created_at: string;
}

export interface ConsentChange {
  status: "opted_in" | "opted_out";
  /** where the decision was taken (a checkout checkbox, a STOP keyword, …) */
  source: string;
  /** who recorded it, for the consent history and the audit log */
  actor: string;
  requestId?: string;
}

/** Contacts and their consent. Every call runs under the named client's row-level security. */
export interface ContactStore {
  list(
    clientId: string,
    filter: { consent?: ConsentStatus; limit: number; offset: number },
  ): Promise<ContactRecord[]>;
  find(clientId: string, ref: ContactRef): Promise<ContactRecord | null>;
  /**
   * Records a consent decision in one transaction (public.record_consent): the contact (created
   * when a number or user id names one nobody has yet), its consent, one consent event and one
   * audit record. Null when `ref` is an id that names no contact of the client. `previous` is the
   * status before.
   */
  recordConsent(
    clientId: string,
    ref: ContactRef,
    change: ConsentChange,
  ): Promise<{ contact: ContactRecord; previous: ConsentStatus } | null>;
}
