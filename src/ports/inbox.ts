/**
 * The provider webhook inbox (public.webhook_inbox): every verified delivery of a provider (Meta,
 * or a plugin's upstream, named by its plugin id) is recorded here before it is acknowledged, and
 * processed after. Cross-tenant: a delivery names no client until it is walked.
 */
export interface InboxStore {
  /**
   * Records a delivery once per (provider, dedupeKey): the new row's id, or null for a duplicate.
   * Concurrent writes share one INSERT (group commit). `routeKey` is what the delivery takes
   * turns by with others before it names a client.
   */
  write(
    provider: string,
    dedupeKey: string,
    payloadCiphertext: string,
    routeKey: string | null,
  ): Promise<number | null>;
  /**
   * Records many deliveries of one provider in one INSERT, as write() would each: per item, the
   * new row's id or null for a duplicate (of an earlier row, or of an item before it)
   */
  writeMany(
    provider: string,
    items: Array<{ dedupeKey: string; payloadCiphertext: string; routeKey: string | null }>,
  ): Promise<Array<number | null>>;
  /** whether written rows are already claimed (leased) for this process */
  readonly claims: boolean;
  /** claims unprocessed, unleased rows; the rows it got, with their provider */
  claim(ids: number[], leaseSeconds: number): Promise<ClaimedInboxRow[]>;
  /** the payloads of unprocessed rows, by id (rows this process wrote claimed, say) */
  payloads(ids: number[]): Promise<Map<number, string>>;
  /** marks the rows processed and drops their payloads (the rows stay for dedupe) */
  finish(ids: number[], at: number): Promise<void>;
  /** a failed row waits until `nextAttemptAt`; with `giveUp` it is set aside (processed) */
  release(
    id: number,
    failure: { error: string; nextAttemptAt: number; giveUp: boolean; at: number },
  ): Promise<void>;
  /** events for numbers nobody owns, for operators; throws StoreRefused for refused content */
  recordUnrouted(rows: UnroutedRow[]): Promise<void>;
  /** rows due again (lost jobs, retries), in turns per route key */
  due(limit: number): Promise<Array<{ id: number; route_key: string | null }>>;
}

export interface ClaimedInboxRow {
  id: number;
  provider: string;
  payload_ciphertext: string;
  attempts: number;
}

export interface UnroutedRow {
  phone_number_id: string | null;
  waba_id: string | null;
  kind: string;
  inbox_id: number;
  /** how many events of the delivery share the row */
  events: number;
}
