/**
 * What a plugin's handler is handed: its own configuration and secrets, and narrow capabilities
 * into the core. Never a database client: everything goes through the host, under the client's
 * row-level security, for this plugin and this client only.
 */
export interface PluginContext<Config = unknown> {
  readonly pluginId: string;
  readonly clientId: string;
  /** the client's configuration of this plugin, validated against the plugin's schema */
  readonly config: Config;
  /** the client's secrets for this plugin (the names the plugin declared), decrypted */
  readonly secrets: Readonly<Record<string, string>>;
  /** the deployment settings the plugin declared (`env`, `optionalEnv`), and nothing else */
  readonly env: { get(name: string): string | undefined };
  /** structured logs tagged with the plugin's id; never log message text or secrets */
  readonly logger: PluginLogger;
  /** aborts when the handler's time is up (the manifest's timeoutMs) */
  readonly signal: AbortSignal;
  /**
   * Queues a message through the core's send pipeline: consent, the 24-hour window, pacing,
   * retries. Idempotent: the same `key` (by default this delivery and the order of the call)
   * always names the same message, so a retried handler never sends twice.
   */
  send(intent: SendIntent): Promise<SendResult>;
  contacts: {
    /** a contact by our id, its phone number (any common format) or its business-scoped user id */
    find(ref: string): Promise<PluginContact | null>;
  };
  consent: {
    /** records a decision (in one transaction, with its history and an audit record) */
    record(
      ref: string,
      decision: { status: "opted_in" | "opted_out"; source: string },
    ): Promise<{ contact: PluginContact; previous: ConsentStatus }>;
  };
  /**
   * The client's message templates as the core keeps them in step with Meta: to offer a picker
   * (name, language, status, the parameters a send fills) and to check a send before making it.
   * Read-only; `send` checks every template send the same way.
   */
  templates: PluginTemplates;
  /** small JSON values this plugin keeps per client (at most 64 KiB each) */
  state: PluginState;
  /**
   * Secrets the plugin obtains itself (an upstream's access token after an install), encrypted at
   * rest with the client's data key, so deleting the client makes them unreadable. Never log them.
   */
  vault: PluginVault;
  /**
   * Tokens signed with a key of this installation's own (random, created on first use, kept in
   * the vault): the payload is readable, not secret; `open` answers null for a token this
   * installation did not sign for exactly this `context`, so a token made for one purpose or
   * resource (an order, a user) is worthless for another.
   */
  signer: PluginSigner;
  /** what this plugin did about each business event: dedupe, outcomes, their messages' status */
  journal: PluginJournal;
  /** privacy requests the upstream sent, recorded for the privacy workflow */
  privacyRequests: {
    record(request: PluginPrivacyRequest): Promise<{ created: boolean; id: string }>;
  };
  /**
   * Replaces this installation's config (validated against the plugin's schema, audited as the
   * plugin on behalf of `onBehalfOf`), as a settings page does; the routing key cannot change
   * this way. Throws when the config does not fit the schema or the plugin is not installed.
   */
  saveConfig(config: Config, who: { onBehalfOf: string }): Promise<void>;
  /**
   * fetch, only to the hosts the plugin declared in `upstreams` (https outside development), with
   * a timeout (default 10 s, within the handler's own); redirects are not followed
   */
  fetch(input: string | URL, init?: RequestInit & { timeoutMs?: number }): Promise<Response>;
}

export type ConsentStatus = "unknown" | "opted_in" | "opted_out";

export interface PluginContact {
  id: string;
  waId: string | null;
  userId: string | null;
  consent: ConsentStatus;
  /** when the contact last wrote: free-form messages are allowed for 24 h after it */
  lastInboundAt: string | null;
}

export type SendIntent =
  & {
    /** a phone number in international format, or a business-scoped user id */
    to: string;
    /** Meta's id of the sending number; needed when the client has several */
    phoneNumberId?: string;
    /** makes the send idempotent across deliveries too (at most 128 characters) */
    key?: string;
  }
  & (
    | { text: string; previewUrl?: boolean }
    | { template: TemplateMessage }
  );

/** A template message: Meta's send components (`body`, `header`, `button` with parameters). */
export interface TemplateMessage {
  name: string;
  /** the template's language code, as its list shows it: `en_US`, `pt_BR`, `hi` */
  language: string;
  components?: ReadonlyArray<Record<string, unknown>>;
}

/** Why a template send is refused before it is queued (the API's 422 codes). */
export type TemplateRefusal =
  | "template_not_found"
  | "template_not_approved"
  | "template_paused"
  | "template_disabled"
  | "template_parameters_mismatch";

/** A send the core refused, and why (the API's error code); anything else throws. */
export type SendRefusal =
  | "contact_opted_out"
  | "outside_customer_service_window"
  | "unknown_phone_number"
  | "phone_number_required"
  | "invalid_recipient"
  | TemplateRefusal;

export type SendResult =
  | { sent: true; messageId: string; created: boolean }
  | { sent: false; reason: SendRefusal };

export interface PluginTemplates {
  /**
   * A page of the client's templates in (name, language) order: at most `limit` (1 to 200,
   * default 200). The next page starts `after` the last template of this one.
   */
  list(filter?: TemplateFilter): Promise<PluginTemplate[]>;
  /** whether a send of `template` would be accepted now, and if not, why (as `send` answers) */
  check(
    template: TemplateMessage,
    options?: { phoneNumberId?: string },
  ): Promise<TemplateCheck>;
  /**
   * Submits a template the plugin proposes (its merchant clicked "submit") to Meta for review,
   * checked first against Meta's rules as `POST /v1/templates` checks it, and audited as the
   * plugin's. It is stored PENDING; approval arrives by webhook, as for the client's own.
   */
  submit(template: NewPluginTemplate): Promise<TemplateSubmission>;
}

/** A template to submit: Meta's creation shape (see `POST /v1/templates`). */
export interface NewPluginTemplate {
  name: string;
  /** Meta's language code: `en`, `en_US`, `pt_BR`, … */
  language: string;
  category: "MARKETING" | "UTILITY" | "AUTHENTICATION";
  parameterFormat?: "POSITIONAL" | "NAMED";
  /** HEADER, BODY (required), FOOTER and BUTTONS components, each with its examples */
  components: ReadonlyArray<Record<string, unknown>>;
  /** Meta's id of the WhatsApp Business account, where the client has several */
  wabaId?: string;
}

export type TemplateSubmission =
  | { submitted: true; template: PluginTemplate }
  | {
    submitted: false;
    /**
     * `invalid_template` (with each broken rule), `template_exists`, `unknown_waba`,
     * `waba_required`, `no_access_token` or `graph_error` (Meta refused it)
     */
    reason: string;
    message: string;
    problems?: Array<{ path: string; message: string }>;
  };

export interface TemplateFilter {
  /** Meta's status: `APPROVED` (the only one a send accepts), `PENDING`, `REJECTED`, `PAUSED`, … */
  status?: string;
  language?: string;
  /** `MARKETING`, `UTILITY` or `AUTHENTICATION` */
  category?: string;
  name?: string;
  /** Meta's id of the WhatsApp Business account, where the client has several */
  wabaId?: string;
  limit?: number;
  after?: { name: string; language: string; id: string };
}

export interface PluginTemplate {
  id: string;
  /** Meta's id of the template's WhatsApp Business account */
  wabaId: string;
  name: string;
  language: string;
  category: string | null;
  status: string;
  /** `GREEN`, `YELLOW`, `RED` or `UNKNOWN`; null before Meta rates it */
  qualityScore: string | null;
  rejectedReason: string | null;
  /** what a send fills in; null while the template is known only from a webhook (until a sync) */
  parameters: TemplateParameters | null;
  /** Meta's component definitions (null likewise) */
  components: readonly unknown[] | null;
}

/** What a send of a template must supply, as the core checks it. */
export interface TemplateParameters {
  format: "POSITIONAL" | "NAMED";
  /** a header with variables (`text`), or the media or location it is sent with; else null */
  header:
    | { type: "text"; variables: string[] }
    | { type: "image" | "video" | "document" | "location" }
    | null;
  /** the body's variables in order: `1`, `2`, … or names */
  body: string[];
  /** the buttons a send gives a parameter: their index and the `sub_type` it names */
  buttons: Array<{ index: number; subType: string }>;
  /** every value a send supplies: the header's, the body's and the buttons' */
  count: number;
}

export type TemplateCheck =
  | { ok: true }
  | { ok: false; reason: TemplateRefusal; message: string };

export interface PluginState {
  get<T = unknown>(key: string): Promise<T | null>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface PluginVault {
  get(name: string): Promise<string | null>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface PluginSigner {
  /** `payload.mac`, URL-safe, about 23 characters plus the payload's base64 */
  sign(context: string, payload: string): Promise<string>;
  open(context: string, token: string): Promise<string | null>;
}

/** How a journal entry ended: a message sent, nothing sent (and why), or an action done. */
export type JournalOutcome =
  | { outcome: "sent"; messageId: string }
  | { outcome: "suppressed"; reason: string }
  | { outcome: "done" };

export interface JournalEntry {
  key: string;
  kind: string;
  outcome: "pending" | "sent" | "suppressed" | "done";
  reason: string | null;
  subject: string | null;
  /** digits, as a contact's waId */
  recipient: string | null;
  messageId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** A listed entry, with the current status of its message (queued … read, failed). */
export type JournalListing = JournalEntry & { messageStatus: string | null };

/** One UTC day of a journal: what was sent, what became of it, and what was suppressed, by reason. */
export interface JournalDay {
  day: string;
  sent: number;
  delivered: number;
  read: number;
  failed: number;
  suppressed: Record<string, number>;
}

/**
 * The plugin's journal (public.plugin_journal), one entry per business key it names, for this
 * client. `claim` is the durable dedupe of an upstream event delivered more than once: the first
 * call for a key creates the entry, every later one (another delivery, a retry) finds it.
 * `advance` keeps a version per resource that only moves forward: an event whose version is below
 * the answer is stale. Entries name their recipient so erasure finds them, and are purged by
 * retention (the plugin_journal class).
 */
export interface PluginJournal {
  claim(
    key: string,
    entry: {
      kind: string;
      /** a label the client knows the event by (an order name), no personal data */
      subject?: string;
      /** a phone number (any international format) */
      recipient?: string;
      /** small details (at most 4 KB of JSON) */
      data?: Record<string, unknown>;
    },
  ): Promise<{ created: boolean; entry: JournalEntry }>;
  get(key: string): Promise<JournalEntry | null>;
  settle(key: string, outcome: JournalOutcome & { recipient?: string }): Promise<void>;
  /** the version now stored: the greater of the stored one and `version` */
  advance(key: string, version: number): Promise<number>;
  recent(
    options?: { kinds?: readonly string[]; limit?: number; before?: string },
  ): Promise<JournalListing[]>;
  /**
   * Every entry about one number (the privacy workflows' export), oldest first; throws rather
   * than answer part of them when there are more than 10,000
   */
  about(number: string): Promise<JournalListing[]>;
  /** the last `days` UTC days (at most 90), oldest first, days without entries included */
  summary(options: { kinds?: readonly string[]; days: number }): Promise<JournalDay[]>;
  /** erases the entries about these numbers, or every entry of the plugin; how many */
  forget(recipients: readonly string[] | "all"): Promise<number>;
}

/** A privacy request from the upstream: the privacy workflow carries it out (its deadline applies). */
export interface PluginPrivacyRequest {
  /** access: what we hold about the subject; erasure: erase the subject; erase_all: everything */
  kind: "access" | "erasure" | "erase_all";
  /** the upstream's reference: the same reference is recorded once */
  reference: string;
  /** the subject's phone number when the upstream gave one (any format; kept as digits if usable) */
  phone?: string | null;
  /** everything else the upstream said about the subject; stored encrypted */
  details: Record<string, unknown>;
  /**
   * The upstream's compliance webhook as it arrived, for the privacy workflow to file as a
   * verified data-subject request of this client (today Shopify's three topics): staff then
   * approve and fulfil it as any other request, and the record is linked to it. Without it, or
   * where the workflow cannot take it, the request is only recorded and staff file it by hand.
   */
  upstream?: { provider: "shopify"; topic: string; payload: unknown; webhookId: string };
}

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface PluginLogger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}
