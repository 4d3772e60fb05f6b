/**
 * Work the edge does after answering: each job names a durable row, so a lost job only delays
 * work (the sweeper finds the row again), and running a job twice is harmless. The exception is
 * `delivery`, rung only through a durable doorbell: it is the verified delivery itself, whose
 * message the queue keeps until the consumer has written the row.
 */
export type Job =
  /**
   * A verified provider delivery not recorded yet: the consumer writes a batch's in one insert
   * into the inbox (deduplicated by `dedupeKey`) and processes the new ones
   */
  | {
    kind: "delivery";
    provider: string;
    dedupeKey: string;
    route: string | null;
    /** the payload as the inbox row keeps it (encryptSystem) */
    ciphertext: string;
  }
  | {
    kind: "inbox";
    id: number;
    /** what the delivery takes turns by with others before it names a client (metaRouteKey) */
    route?: string | null;
    /** whose delivery it is (`meta` or a plugin id); set with `claimed`, else the claim says */
    provider?: string;
    claimed?: ClaimedInboxItem;
  }
  | { kind: "send"; clientId: string; messageId: string; claimed?: ClaimedSend }
  /** one client's part of a data-subject request (public.privacy_request_parts) */
  | { kind: "privacy_part"; clientId: string; partId: string }
  /** one batch of a leaving client's rows (privacy.client_offboardings) */
  | { kind: "client_offboarding"; clientId: string }
  | {
    kind: "webhook_delivery";
    clientId: string;
    deliveryId: string;
    claimed?: ClaimedWebhookDelivery;
  }
  /** a core event (or a scheduled run) for one plugin's handler (public.plugin_deliveries) */
  | { kind: "plugin_event"; clientId: string; deliveryId: string }
  /** a sync of one WhatsApp Business account's templates (its row: message_template_syncs) */
  | { kind: "template_sync"; clientId: string; wabaAccountId: string };

/** Rings the consumer: a Cloudflare Queue on Workers, an in-process queue on Deno. */
export interface Doorbell {
  /** `delayMs` asks for the jobs no earlier than that; the sweeper is the backstop either way */
  ring(jobs: Job[], options?: { delayMs?: number }): Promise<void>;
  /**
   * Set where jobs travel through a queue as messages (Workers), serialised: the most of a row's
   * content one may carry. Unset where jobs run in this process and are handed over as they are.
   */
  readonly carries?: number;
  /**
   * Whether a rung job survives a crash once ring() resolves (a Cloudflare Queue keeps it until
   * the consumer acknowledges it); an in-process doorbell's jobs die with the process.
   */
  readonly durable?: boolean;
}

/** The sending number as a claim returns it. */
export interface SendingPhone {
  phone_number_id: string;
  waba_account_id: string;
  messages_per_second: number;
}

/**
 * A message its enqueue already claimed (leased) for sending, handed to the job that sends it.
 * Only an in-process doorbell carries one; a job without it claims the message itself.
 */
export interface ClaimedSend {
  message: unknown;
  phone: SendingPhone;
  /** the message's content in clear, as the client sent it (its row holds it encrypted) */
  content?: Record<string, unknown>;
}

/**
 * A webhook delivery written to the inbox already claimed (leased), handed to the job that walks
 * its events: in this process with its verified body (as JSON.parse gave it, its envelope
 * checked); through a queue with the row's payload as stored (encrypted), when it fits in a
 * message, else with neither (the job reads the payload). A job without it claims the row.
 */
export interface ClaimedInboxItem {
  body?: unknown;
  ciphertext?: string;
}

/**
 * A client webhook delivery written already claimed (leased), handed with its body in clear to the
 * job that makes its first attempt. Only an in-process doorbell carries one; a job without it
 * (a retry, a sweep, a queue) claims the row and decrypts the body itself.
 */
export interface ClaimedWebhookDelivery {
  endpointId: string;
  eventId: string;
  body: string;
}
