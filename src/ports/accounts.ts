/** Which client a Meta phone number id belongs to, and our id of that number. */
export interface PhoneRoute {
  clientId: string;
  /** our id of the phone number row */
  phoneId: string;
}

/** A WhatsApp Business account of a client: our id and Meta's. */
export interface BusinessAccount {
  id: string;
  waba_id: string;
}

export interface AccountEvent {
  id: number;
  waba_id: string | null;
  phone_number_id: string | null;
  field: string;
  value: unknown;
  received_at: string;
}

/**
 * The clients' WhatsApp Business accounts and numbers. The routing lookups are cross-tenant (a
 * webhook names no client); the rest runs under the named client's row-level security.
 */
export interface WhatsAppAccountStore {
  phoneRoute(phoneNumberId: string): Promise<PhoneRoute | null>;
  wabaClient(wabaId: string): Promise<string | null>;
  /** the client's accounts in order of Meta's id; `wabaId` (Meta's) or `id` (ours) picks one */
  businessAccounts(
    clientId: string,
    pick?: { wabaId?: string; id?: string },
  ): Promise<BusinessAccount[]>;
  /** the account's WhatsApp access token, encrypted, with the WABA id it is bound to */
  accessToken(
    clientId: string,
    wabaAccountId: string,
  ): Promise<{ wabaId: string; ciphertext: string } | null>;
  events(
    clientId: string,
    filter: { field?: string; before?: number; limit: number },
  ): Promise<AccountEvent[]>;
}
