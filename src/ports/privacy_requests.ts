import type { RequestType, SubjectKind } from "../core/privacy/subject.ts";

export type RequestStatus =
  | "unverified"
  | "verified"
  | "approved"
  | "in_progress"
  | "completed"
  | "rejected"
  | "expired";
export type RequestChannel = "web" | "api" | "shopify" | "meta";
export type VerificationMethod =
  | "whatsapp_code"
  | "client_attestation"
  | "meta_signature"
  | "shopify_signature";
export type PartStatus = "pending" | "queued" | "held" | "done" | "failed";

/** A request as the workflow keeps it (never its subject in clear). */
export interface PrivacyRequestRecord {
  id: string;
  reference_prefix: string;
  filing_client_id: string | null;
  type: RequestType;
  channel: RequestChannel;
  status: RequestStatus;
  external_id: string | null;
  subject_kind: SubjectKind;
  verification_method: VerificationMethod;
  verified_at: string | null;
  attested_by: string | null;
  attested_at: string | null;
  filed_by: string;
  received_at: string;
  due_at: string;
  extended_due_at: string | null;
  extension_reason: string | null;
  approved_at: string | null;
  rejected_at: string | null;
  rejection_reason: string | null;
  fulfilment_requested_at: string | null;
  completed_at: string | null;
  updated_at: string;
}

export interface PartRecord {
  id: string;
  request_id: string;
  client_id: string;
  status: PartStatus;
  result: Record<string, unknown>;
  error: string | null;
  attempts: number;
  done_at: string | null;
  created_at: string;
}

export interface ExportRecord {
  id: string;
  request_id: string;
  client_id: string;
  part_id: string;
  bytes: number;
  created_at: string;
  expires_at: string;
  downloaded_at: string | null;
}

/** A request with its parts and exports (the status page, the API). */
export interface RequestWithParts extends PrivacyRequestRecord {
  parts: PartRecord[];
  exports: ExportRecord[];
}

export interface NewRequest {
  reference_hash: string;
  reference_prefix: string;
  filing_client_id: string | null;
  type: RequestType;
  channel: RequestChannel;
  external_id?: string;
  subject_kind: SubjectKind;
  subject_hash: string;
  subject_ciphertext: string;
  details_ciphertext: string | null;
  verification_method: VerificationMethod;
  attested_by?: string;
  attested_at?: string;
  filed_by: string;
  subject_request_ids?: string[];
}

/** A part leased for one attempt, with what carrying it out needs. */
export interface ClaimedPart {
  part: PartRecord & { contact_ids: string[] };
  request: {
    id: string;
    type: RequestType;
    channel: RequestChannel;
    filing_client_id: string | null;
    subject_kind: SubjectKind;
    subject_ciphertext: string | null;
    details_ciphertext: string | null;
  };
}

export type CodeStored = "stored" | "too_soon" | "too_many" | "closed";
export type CodeAttempt =
  | { outcome: "attempt"; code_hash: string; attempts: number; max_attempts: number }
  | { outcome: "no_code" | "expired" | "locked" };

/** What a part's database side did (apply_privacy_part). */
export type AppliedPart =
  | { outcome: "done"; result: Record<string, number> }
  | { outcome: "held" | "not_claimed" | "not_applicable" };

/**
 * The request workflow's storage. Methods that name a `clientId` run under that client's JWT
 * (RLS); the others are system work (the service role): a subject filing on the web belongs to
 * no client yet, and finding which clients know a number is cross-tenant by nature.
 */
export interface PrivacyRequestStore {
  file(
    request: NewRequest,
    asClient?: string,
  ): Promise<{ request: PrivacyRequestRecord; created: boolean }>;
  findByReference(referenceHash: string): Promise<RequestWithParts | null>;
  /** requests filed on the web about this subject since `since` (the per-subject limit) */
  countWebRequests(subjectHash: string, since: Date): Promise<number>;
  /**
   * Whether a client knows this number or user id: any client but `except`, or with `only`, that
   * client alone.
   */
  subjectKnown(
    ids: { waId?: string; userId?: string },
    scope: { except?: string | null; only?: string },
  ): Promise<boolean>;
  /** the request's encrypted subject and details (the workflow's own secret, never shown) */
  sealedSubject(
    requestId: string,
  ): Promise<{ subject_ciphertext: string | null; details_ciphertext: string | null } | null>;
  addSubjectRequestId(requestId: string, httpRequestId: string): Promise<void>;
  storeCode(
    requestId: string,
    codeHash: string,
    options: { ttlSeconds: number; maxAttempts: number },
  ): Promise<CodeStored>;
  takeCodeAttempt(requestId: string): Promise<CodeAttempt>;
  verify(
    requestId: string,
    ids: { waId?: string; userId?: string },
    privacySender: string | null,
  ): Promise<{ outcome: "verified" | "already" | "not_found"; status?: RequestStatus }>;

  duePartIds(limit: number): Promise<Array<{ id: string; client_id: string }>>;
  partIdsOf(requestId: string): Promise<Array<{ id: string; client_id: string }>>;
  claimPart(partId: string, leaseSeconds: number): Promise<ClaimedPart | null>;
  resolvePartContacts(partId: string, ids: { waId?: string; userId?: string }): Promise<string[]>;
  partHeld(partId: string): Promise<boolean>;
  /** the database side of a part, as its client */
  applyPart(
    clientId: string,
    partId: string,
    options: {
      /** the client webhook deliveries and plugin deliveries whose payload names the subject */
      deliveryIds?: string[];
      pluginDeliveryIds?: string[];
      profileNameCiphertext?: string;
    },
  ): Promise<AppliedPart>;
  finishPart(
    partId: string,
    outcome: "done" | "held" | "retry",
    options?: { result?: Record<string, unknown>; error?: string; retryInSeconds?: number },
  ): Promise<{ request_completed: boolean }>;
  storeExport(record: {
    id: string;
    request_id: string;
    part_id: string;
    client_id: string;
    content_ciphertext: string;
    bytes: number;
    expires_at: string;
  }): Promise<void>;
  takeExport(exportId: string): Promise<{ client_id: string; content_ciphertext: string } | null>;
  /** exports past their time lose their content; unverified requests expire after 7 days */
  expireWork(maxRows: number): Promise<{ exports: number; requests: number }>;

  /** the client's requests (filed by it, or with a part for it), newest first */
  listForClient(
    clientId: string,
    options: { limit: number; before?: string; status?: RequestStatus },
  ): Promise<RequestWithParts[]>;
  getForClient(clientId: string, id: string): Promise<RequestWithParts | null>;
}
