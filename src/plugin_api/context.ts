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

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface PluginLogger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}
