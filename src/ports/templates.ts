import type {
  SendTemplate,
  TemplateEvent,
  TemplateRow,
  TemplateVerdict,
} from "../core/whatsapp/templates.ts";

/**
 * Storage of message templates, per client and WhatsApp Business account (implemented by
 * adapters/supabase/templates_store.ts). Every method but dueSyncs acts as one client, under its
 * row-level security.
 */
export interface TemplateStore {
  /** a page of the client's templates in (name, language, id) order, after `after` */
  list(clientId: string, filter: TemplateFilter): Promise<TemplateRecord[]>;
  get(clientId: string, id: string): Promise<TemplateRecord | null>;
  /** What a send is checked against (see public.template_for_send). */
  forSend(
    clientId: string,
    send: {
      phoneNumberId: string | null;
      name: string;
      language: string;
      idempotencyKey: string | null;
    },
  ): Promise<SendLookup>;
  claimSync(
    clientId: string,
    accountId: string,
    options: { minIntervalSeconds: number; leaseSeconds: number },
  ): Promise<SyncClaim>;
  /** one page of Meta's listing: inserted, updated, and the status or quality changes */
  writePage(clientId: string, accountId: string, rows: TemplateRow[]): Promise<PageWritten>;
  finishSync(
    clientId: string,
    accountId: string,
    outcome: { seen: string[]; startedAt: string; error: string | null; found: number },
  ): Promise<{ deleted: TemplateChange[] }>;
  /** a template Meta has just accepted for review */
  insert(
    clientId: string,
    accountId: string,
    row: TemplateRow,
  ): Promise<TemplateRecord>;
  remove(clientId: string, id: string): Promise<boolean>;
  /** Meta's template webhooks, in order (see public.apply_template_events) */
  applyEvents(
    clientId: string,
    events: TemplateEvent[],
  ): Promise<{ changes: Array<TemplateChange & { waba_id: string }>; sync: string[] }>;
  /** accounts due a sync, any client (service role; see public.due_template_syncs) */
  dueSyncs(
    limit: number,
    options: { intervalSeconds: number; retrySeconds: number },
  ): Promise<Array<{ clientId: string; accountId: string }>>;
}

export interface TemplateFilter {
  status?: string;
  language?: string;
  category?: string;
  name?: string;
  wabaId?: string;
  after?: { name: string; language: string; id: string };
  limit: number;
}

/** A stored template as the API shows it. */
export interface TemplateRecord {
  id: string;
  waba_id: string;
  meta_template_id: string;
  name: string;
  language: string;
  category: string | null;
  status: string;
  quality_score: string | null;
  parameter_format: "POSITIONAL" | "NAMED";
  components: unknown[] | null;
  rejected_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface SendLookup {
  /**
   * The send's Idempotency-Key already names a message: the enqueue answers with it, so nothing
   * else was looked up (accountId and template are null)
   */
  queued: boolean;
  /** the sending number's account; null when the number is unknown or not named among several */
  accountId: string | null;
  template: Omit<TemplateRecord, "waba_id"> | null;
  /** the languages the template's name exists in, in that account */
  languages: string[];
}

export type SyncClaim =
  | { claimed: true; startedAt: string }
  | {
    claimed: false;
    reason: "recent" | "in_progress" | "unknown_account";
    lastSyncedAt: string | null;
  };

export interface PageWritten {
  inserted: number;
  updated: number;
  changes: TemplateChange[];
}

/** A change clients hear of (template.status, template.quality). */
export interface TemplateChange {
  kind?: "status" | "quality";
  /** Meta's id of the template's account, where the change names it */
  waba_id?: string;
  id: string;
  name: string;
  language: string;
  category: string | null;
  status?: string;
  previous_status?: string | null;
  quality_score?: string | null;
  previous_quality_score?: string | null;
  reason?: string | null;
}

/** A template send as the check before its enqueue sees it. */
export interface TemplateSend {
  template: SendTemplate;
  phoneNumberId?: string | null;
  /** the client's Idempotency-Key, if it gave one */
  idempotencyKey?: string | null;
}

/**
 * The check a template send passes before it is queued (implemented by services/templates.ts,
 * which syncs the account once before it refuses, so a template approved a moment ago at Meta is
 * not refused for the store's lag).
 */
export interface TemplateCheck {
  check(clientId: string, send: TemplateSend): Promise<TemplateVerdict>;
  /**
   * Submits a new template to Meta for review and stores it as Meta answers (normally PENDING);
   * the caller has checked it against Meta's rules. Throws the AppErrors of POST /v1/templates.
   */
  create(clientId: string, input: NewTemplate, who: Requester): Promise<TemplateRecord>;
}

/** A new template as a client or a plugin submits it (Meta's shape). */
export interface NewTemplate {
  waba_id?: string;
  name: string;
  language: string;
  category: string;
  parameter_format?: "POSITIONAL" | "NAMED";
  components: Array<Record<string, unknown>>;
}

/** Who asked, for the audit log. */
export interface Requester {
  actor: string;
  requestId?: string;
}
