/** Offboarding a client: shredding its data key, then removing its rows in batches. */
export interface OffboardingRecord {
  id: string;
  client_id: string;
  requested_by: string;
  started_at: string;
  key_shredded_at: string | null;
  finished_at: string | null;
  removed: Record<string, number>;
}

export interface OffboardingStore {
  /** refuses a client under a legal hold (LegalHoldError); returns the record */
  start(clientId: string, requestedBy: string): Promise<OffboardingRecord>;
  step(
    clientId: string,
    maxRows: number,
  ): Promise<{ done: boolean; removed: Record<string, number>; total?: Record<string, number> }>;
  leaving(limit: number): Promise<string[]>;
}

export class LegalHoldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LegalHoldError";
  }
}
