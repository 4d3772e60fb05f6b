import {
  decryptField,
  decryptSystem,
  encryptField,
  encryptSystem,
  type Keyring,
} from "../core/crypto/envelope.ts";
import { hmacSha256 } from "../core/crypto/hmac.ts";
import type { SignedTokens } from "../core/crypto/signed_token.ts";
import { AppError, ERROR_CODES } from "../core/errors.ts";
import { normaliseRecipient } from "../core/messaging/outbound.ts";
import {
  newConfirmationCode,
  newVerificationCode,
  normaliseConfirmationCode,
  normaliseVerificationCode,
  type PrivacyHashes,
  sameHash,
} from "../core/privacy/codes.ts";
import { verifySignedRequest } from "../core/privacy/meta_signed_request.ts";
import { ShopifyCompliancePayloads } from "../core/privacy/shopify.ts";
import {
  type PrivacySubject,
  type RequestType,
  subjectIdentity,
  type SubjectKind,
} from "../core/privacy/subject.ts";
import type { Job } from "../ports/jobs.ts";
import type { Logger } from "../ports/logger.ts";
import type { ShopifyComplianceIntake } from "../ports/privacy_intake.ts";
import type {
  ClaimedPart,
  NewRequest,
  PartStatus,
  PrivacyRequestStore,
  RequestChannel,
  RequestStatus,
  RequestWithParts,
  VerificationMethod,
} from "../ports/privacy_requests.ts";
import type { SubjectDataStore } from "../ports/subject_data.ts";
import type { ServiceDeps } from "./deps.ts";
import { payloadContext } from "./plugins/fanout.ts";
import { eraseFromPlugins, exportFromPlugins } from "./plugins/privacy.ts";
import type { HostDeps } from "./plugins/runner.ts";
import { enqueueMessage } from "./whatsapp_send.ts";

/** How long a one-time code works, and how many tries it allows. */
export const CODE_TTL_SECONDS = 600;
export const CODE_MAX_ATTEMPTS = 5;
/** Codes sent about one subject through the public page per day (each goes to their phone). */
export const WEB_REQUESTS_PER_SUBJECT_PER_DAY = 3;
/** A part's lease: longer than an export of the largest subject takes to build. */
const PART_LEASE_SECONDS = 300;
/** An export holds at most this many messages; a larger one fails its part for staff to see. */
export const MAX_EXPORT_MESSAGES = 20_000;
const PAGE = 500;
/** Deliveries and set-aside inbox payloads looked through for the subject, per erasure. */
const MAX_SCANNED = 10_000;

export interface PrivacyConfig {
  /** the client whose WhatsApp number sends verification codes (the provider's own), if any */
  senderClientId: string | null;
  senderPhoneNumberId: string | null;
  codeTemplate: string;
  codeTemplateLanguage: string;
  exportTtlHours: number;
}

export interface PrivacyDeps {
  store: PrivacyRequestStore;
  subjects: SubjectDataStore;
  /** the plugin host: an export and an erasure reach every plugin on for the client */
  plugins: HostDeps;
  /** runs jobs through the job consumer, in this process, now (what must not wait for a queue) */
  runJobs: (jobs: Job[]) => Promise<unknown>;
  hashes: PrivacyHashes;
  /** keys the deterministic confirmation codes of provider requests (Meta, Shopify retries) */
  pepper: string;
  exportTokens: SignedTokens;
  keyring: Keyring;
  send: Pick<ServiceDeps, "messages" | "dataKeys" | "doorbell" | "now" | "templateCheck">;
  logger: Logger;
  config: PrivacyConfig;
  now: () => number;
}

export type CodeSent =
  | "sent"
  | "unknown"
  | "unavailable"
  | "not_sent"
  | "too_soon"
  | "too_many"
  | "closed";

export type VerifyOutcome =
  | { outcome: "verified" }
  | { outcome: "wrong_code"; remaining: number }
  | { outcome: "invalid_code" | "expired" | "locked" | "no_code" | "not_found" }
  | { outcome: "already"; status: RequestStatus };

/** A request as the status page and the API show it. */
export interface RequestView {
  id: string;
  reference_prefix: string;
  type: RequestType;
  channel: RequestChannel;
  status: RequestStatus;
  subject_kind: SubjectKind;
  verification: {
    method: VerificationMethod;
    verified_at: string | null;
    attested_by: string | null;
    attested_at: string | null;
  };
  received_at: string;
  deadline: string;
  extension: { until: string; reason: string | null } | null;
  overdue: boolean;
  rejection_reason: string | null;
  completed_at: string | null;
  parts: Array<{
    client_id: string;
    status: PartStatus;
    result: Record<string, unknown>;
    done_at: string | null;
  }>;
  exports: Array<{
    id: string;
    client_id: string;
    bytes: number;
    expires_at: string;
    downloaded_at: string | null;
    url: string | null;
  }>;
}

const DONE = new Set(["completed", "rejected", "expired"]);

/** Where `needle` occurs in `text` as a whole token (not inside a longer number or id). */
export function mentions(text: string, needles: readonly string[]): boolean {
  const inToken = (c: string | undefined) => c !== undefined && /[0-9A-Za-z.]/.test(c);
  for (const needle of needles) {
    if (!needle) continue;
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      if (!inToken(text[at - 1]) && !inToken(text[at + needle.length])) return true;
    }
  }
  return false;
}

/**
 * Data-subject requests: intake on every channel, verification, the status a subject or client
 * sees, the export link, and carrying out each client's part of a request (the fulfilment).
 */
export function privacyRequests(deps: PrivacyDeps) {
  const { store, hashes, config } = deps;

  const seal = (value: unknown) => encryptSystem(deps.keyring, "privacy", JSON.stringify(value));
  const unseal = async <T>(ciphertext: string | null): Promise<T | null> =>
    ciphertext ? JSON.parse(await decryptSystem(deps.keyring, ciphertext)) as T : null;

  /** A provider's request gets the same code on every retry, unguessable without the pepper. */
  const derivedCode = async (externalId: string) => {
    const mac = await hmacSha256(deps.pepper, `glooft-edge privacy provider code: ${externalId}`);
    const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    return [...mac.subarray(0, 20)].map((b) => alphabet[b & 31]).join("").match(/.{4}/g)!.join(
      "-",
    );
  };

  async function newRequest(
    fields: Omit<
      NewRequest,
      "reference_hash" | "reference_prefix" | "subject_hash" | "subject_ciphertext"
    >,
    subject: PrivacySubject,
    options: { code?: string; asClient?: string } = {},
  ) {
    const code = options.code ?? newConfirmationCode();
    const filed = await store.file({
      ...fields,
      reference_hash: await hashes.reference(code),
      reference_prefix: code.slice(0, 4),
      subject_hash: await hashes.subject(subjectIdentity(fields.subject_kind, subject)),
      subject_ciphertext: await seal(subject),
    }, options.asClient);
    return { ...filed, code };
  }

  /**
   * Sends a one-time code to the subject's WhatsApp number through the send pipeline, as an
   * authentication template from the privacy sender's number. Only to a number some client knows
   * (or, with `onlyClient`, that client): the page and the API never send to anyone else's
   * number on a stranger's say-so. Failures are logged, never shown (the page says the same
   * whether or not we hold the number).
   */
  async function sendCode(
    requestId: string,
    subject: PrivacySubject,
    onlyClient?: string,
  ): Promise<CodeSent> {
    if (!config.senderClientId) return "unavailable";
    const ids = { waId: subject.waId, userId: subject.userId };
    const known = await store.subjectKnown(
      ids,
      onlyClient ? { only: onlyClient } : { except: config.senderClientId },
    );
    if (!known) return "unknown";
    const code = newVerificationCode();
    const stored = await store.storeCode(
      requestId,
      await hashes.verificationCode(requestId, code),
      { ttlSeconds: CODE_TTL_SECONDS, maxAttempts: CODE_MAX_ATTEMPTS },
    );
    if (stored !== "stored") return stored;
    try {
      await enqueueMessage(deps.send, config.senderClientId, {
        to: subject.waId ? `+${subject.waId}` : subject.userId!,
        type: "template",
        ...(config.senderPhoneNumberId ? { phone_number_id: config.senderPhoneNumberId } : {}),
        content: {
          template: {
            name: config.codeTemplate,
            language: { code: config.codeTemplateLanguage },
            // an authentication template: the code in the body and in its copy-code button
            components: [
              { type: "body", parameters: [{ type: "text", text: code }] },
              {
                type: "button",
                sub_type: "url",
                index: "0",
                parameters: [{ type: "text", text: code }],
              },
            ],
          },
        },
      }, `privacy-code:${requestId}:${crypto.randomUUID()}`);
    } catch (error) {
      deps.logger.warn("privacy_code_not_sent", {
        request_id: requestId,
        reason: error instanceof AppError ? error.code : (error as Error).name,
      });
      return "not_sent";
    }
    return "sent";
  }

  const exportUrl = async (exportId: string, expiresAt: string) =>
    `/privacy/exports/${await deps.exportTokens.sign(
      "export",
      `${exportId}.${Math.floor(Date.parse(expiresAt) / 1000)}`,
    )}`;

  /** The request as shown; export links only to whoever filed it, only while they work. */
  async function view(
    request: RequestWithParts,
    linksFor: "subject" | { client: string },
  ): Promise<RequestView> {
    const deadline = request.extended_due_at ?? request.due_at;
    const filer = linksFor === "subject"
      ? request.channel === "web"
      : request.filing_client_id === linksFor.client;
    return {
      id: request.id,
      reference_prefix: request.reference_prefix,
      type: request.type,
      channel: request.channel,
      status: request.status,
      subject_kind: request.subject_kind,
      verification: {
        method: request.verification_method,
        verified_at: request.verified_at,
        attested_by: request.attested_by,
        attested_at: request.attested_at,
      },
      received_at: request.received_at,
      deadline,
      extension: request.extended_due_at
        ? { until: request.extended_due_at, reason: request.extension_reason }
        : null,
      overdue: !DONE.has(request.status) && Date.parse(deadline) < deps.now(),
      rejection_reason: request.rejection_reason,
      completed_at: request.completed_at,
      parts: (request.parts ?? []).map((p) => ({
        client_id: p.client_id,
        status: p.status,
        result: p.result,
        done_at: p.done_at,
      })),
      exports: await Promise.all(
        [...request.exports ?? []].sort((a, b) =>
          a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id)
        ).map(async (e) => ({
          id: e.id,
          client_id: e.client_id,
          bytes: e.bytes,
          expires_at: e.expires_at,
          downloaded_at: e.downloaded_at,
          url: filer && !e.downloaded_at && Date.parse(e.expires_at) > deps.now()
            ? await exportUrl(e.id, e.expires_at)
            : null,
        })),
      ),
    };
  }

  // ---- fulfilment -------------------------------------------------------------------------------

  async function exportPart(claimed: ClaimedPart, subject: PrivacySubject) {
    const clientId = claimed.part.client_id;
    const contactIds = claimed.part.contact_ids;
    const key = await deps.send.dataKeys.forClient(clientId);
    const contacts = await deps.subjects.contacts(clientId, contactIds);
    const messages: unknown[] = [];
    let after: { created_at: string; id: string } | undefined;
    for (;;) {
      const page = await deps.subjects.messages(clientId, contactIds, { after, limit: PAGE });
      if (!page.length) break;
      if (messages.length + page.length > MAX_EXPORT_MESSAGES) {
        throw new Error(`The subject has more than ${MAX_EXPORT_MESSAGES} messages`);
      }
      const timeline = new Map<string, unknown[]>();
      for (const e of await deps.subjects.statusEvents(clientId, page.map((m) => m.id))) {
        const id = (e as { message_id: string }).message_id;
        timeline.set(id, [...timeline.get(id) ?? [], e]);
      }
      for (const m of page) {
        const { content_ciphertext, ...rest } = m;
        messages.push({
          ...rest,
          content: content_ciphertext
            ? JSON.parse(await decryptField(key, content_ciphertext, `message:${m.id}`))
            : null,
          timeline: timeline.get(m.id) ?? [],
        });
      }
      const last = page.at(-1)!;
      after = { created_at: last.created_at, id: last.id };
      if (page.length < PAGE) break;
    }
    // what each plugin on for the client holds about each of the subject's contacts there
    const plugins: Record<string, Array<{ contact_id: string; data: unknown }>> = {};
    for (const contactId of contactIds) {
      const held = await exportFromPlugins(deps.plugins, clientId, { id: contactId });
      for (const [pluginId, data] of Object.entries(held)) {
        (plugins[pluginId] ??= []).push({ contact_id: contactId, data });
      }
    }
    const document = {
      format: "glooft-edge privacy export 1",
      generated_at: new Date(deps.now()).toISOString(),
      request: { id: claimed.request.id, type: claimed.request.type },
      controller: { client_id: clientId },
      subject: { wa_id: subject.waId ?? null, user_id: subject.userId ?? null },
      contacts: await Promise.all(contacts.map(async (c) => {
        const { profile_name_ciphertext, ...rest } = c;
        return {
          ...rest,
          profile_name: profile_name_ciphertext
            ? await decryptField(key, profile_name_ciphertext, `contact_name:${clientId}`)
            : null,
        };
      })),
      consent_history: await deps.subjects.consentEvents(clientId, contactIds),
      messages,
      plugins,
      // what plugins keep in their storage naming the subject, hooks or not
      plugin_state: await deps.subjects.pluginState(clientId, [
        ...contacts.flatMap((c) => [c.wa_id, c.user_id]).filter((v): v is string => !!v),
        ...contactIds,
      ]),
    };
    const text = JSON.stringify(document);
    const id = crypto.randomUUID();
    await store.storeExport({
      id,
      request_id: claimed.request.id,
      part_id: claimed.part.id,
      client_id: clientId,
      content_ciphertext: await encryptField(key, text, `privacy_export:${id}`),
      bytes: new TextEncoder().encode(text).length,
      expires_at: new Date(deps.now() + config.exportTtlHours * 3600_000).toISOString(),
    });
    return {
      contacts: contacts.length,
      messages: messages.length,
      plugins: Object.keys(plugins).length,
    };
  }

  /**
   * The client's deliveries still holding a payload that names the subject: client webhook
   * deliveries, or events waiting for (or parked by) a plugin. Their payloads are encrypted, so
   * only the app can tell.
   */
  async function deliveriesAbout(
    clientId: string,
    needles: string[],
    kind: "webhook" | "plugin",
  ): Promise<string[]> {
    const key = await deps.send.dataKeys.forClient(clientId);
    const read = kind === "webhook"
      ? deps.subjects.pendingDeliveries
      : deps.subjects.pluginDeliveriesWithPayload;
    const context = kind === "webhook" ? (id: string) => `webhook_delivery:${id}` : payloadContext;
    const found: string[] = [];
    let after: string | undefined;
    for (let seen = 0; seen < MAX_SCANNED;) {
      const page = await read(clientId, { after, limit: PAGE });
      for (const d of page) {
        try {
          const body = await decryptField(key, d.payload_ciphertext, context(d.id));
          if (mentions(body, needles)) found.push(d.id);
        } catch {
          // unreadable (its master key is gone): nothing in it can be read by anyone either
        }
      }
      seen += page.length;
      if (page.length < PAGE) break;
      after = page.at(-1)!.id;
    }
    return found;
  }

  /** Drops the payload of set-aside Meta deliveries that name the subject (system data). */
  async function scrubInbox(needles: string[]): Promise<number> {
    const doomed: number[] = [];
    let after: number | undefined;
    for (let seen = 0; seen < MAX_SCANNED;) {
      const page = await deps.subjects.setAsideInbox({ after, limit: PAGE });
      for (const row of page) {
        try {
          if (mentions(await decryptSystem(deps.keyring, row.payload_ciphertext), needles)) {
            doomed.push(row.id);
          }
        } catch {
          // unreadable: see deliveriesAbout
        }
      }
      seen += page.length;
      if (page.length < PAGE) break;
      after = page.at(-1)!.id;
    }
    return doomed.length ? await deps.subjects.dropInboxPayloads(doomed) : 0;
  }

  async function erasePart(claimed: ClaimedPart, subject: PrivacySubject) {
    const clientId = claimed.part.client_id;
    const numbers = [subject.waId, subject.userId].filter((v): v is string => !!v);
    const messageIds: string[] = [];
    let after: { created_at: string; id: string } | undefined;
    for (;;) {
      const page = await deps.subjects.messages(clientId, claimed.part.contact_ids, {
        after,
        limit: PAGE,
      });
      messageIds.push(...page.map((m) => m.id));
      if (page.length < PAGE || messageIds.length >= MAX_SCANNED) break;
      const last = page.at(-1)!;
      after = { created_at: last.created_at, id: last.id };
    }
    // every plugin on for the client erases what it holds, while the contacts still exist to be
    // named (an erasure that failed part way runs again: the hooks are idempotent)
    const plugins = new Set<string>();
    for (const contactId of claimed.part.contact_ids) {
      for (const id of await eraseFromPlugins(deps.plugins, clientId, { id: contactId })) {
        plugins.add(id);
      }
    }
    const inbox = numbers.length ? await scrubInbox(numbers) : 0;
    const needles = [...numbers, ...messageIds, ...claimed.part.contact_ids];
    const deliveryIds = await deliveriesAbout(clientId, needles, "webhook");
    const pluginDeliveryIds = await deliveriesAbout(clientId, needles, "plugin");
    const applied = await store.applyPart(clientId, claimed.part.id, {
      deliveryIds,
      pluginDeliveryIds,
    });
    if (applied.outcome !== "done") return applied.outcome;
    return {
      ...applied.result,
      webhook_inbox_payloads: inbox,
      ...(plugins.size ? { plugins: [...plugins].sort() } : {}),
    };
  }

  /**
   * Carries out one part: leases it, finds the subject's contacts at that client, and exports,
   * erases, withdraws consent or corrects, as that client. A legal hold stops an erasure (the
   * part waits, held, until the hold is lifted); an error leaves the part for a retry.
   */
  async function runPart(partId: string): Promise<string> {
    const claimed = await store.claimPart(partId, PART_LEASE_SECONDS);
    if (!claimed) return "busy";
    const { part, request } = claimed;
    try {
      const subject = await unseal<PrivacySubject>(request.subject_ciphertext) ?? {};
      const ids = { waId: subject.waId, userId: subject.userId };
      part.contact_ids = ids.waId || ids.userId
        ? await store.resolvePartContacts(part.id, ids)
        : [];
      let result: Record<string, unknown> | "held" | "not_claimed" | "not_applicable";
      if (request.type === "access") {
        result = await exportPart(claimed, subject);
      } else if (request.type === "deletion") {
        result = await store.partHeld(part.id) ? "held" : await erasePart(claimed, subject);
      } else {
        let profileNameCiphertext: string | undefined;
        if (request.type === "correction") {
          const details = await unseal<{ profile_name?: string }>(request.details_ciphertext);
          if (details?.profile_name) {
            profileNameCiphertext = await encryptField(
              await deps.send.dataKeys.forClient(part.client_id),
              details.profile_name,
              `contact_name:${part.client_id}`,
            );
          }
        }
        const applied = await store.applyPart(part.client_id, part.id, { profileNameCiphertext });
        result = applied.outcome === "done" ? applied.result : applied.outcome;
      }
      if (result === "held") {
        await store.finishPart(part.id, "held");
        return "held";
      }
      if (typeof result === "string") throw new Error(`The part was ${result}`);
      await store.finishPart(part.id, "done", { result });
      return "done";
    } catch (error) {
      // the reason for staff, never the subject: our own messages name no person
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.warn("privacy_part_failed", { part_id: part.id, message: message.slice(0, 200) });
      await store.finishPart(part.id, "retry", {
        error: message.slice(0, 500),
        retryInSeconds: Math.min(3600, 60 * 2 ** Math.min(part.attempts, 6)),
      });
      return "retry";
    }
  }

  // ---- intake and verification ------------------------------------------------------------------

  const subjectFromNumber = (value: string): PrivacySubject | null => {
    const recipient = normaliseRecipient(value);
    if (!recipient) return null;
    return "waId" in recipient ? { waId: recipient.waId } : { userId: recipient.userId };
  };

  const service = {
    config,

    /** Whether the public page can verify requests (a sender of codes is configured). */
    canSendCodes: () => config.senderClientId !== null,

    /**
     * A request filed on the public page. The answer is the same whether or not we hold the
     * number: a code goes to it only when some client knows it, and at most
     * WEB_REQUESTS_PER_SUBJECT_PER_DAY times a day.
     */
    async fileFromWeb(input: {
      type: RequestType;
      number: string;
      correctedName?: string;
      httpRequestId: string;
    }): Promise<{ code: string } | { problem: "invalid_number" | "unavailable" }> {
      const subject = subjectFromNumber(input.number);
      if (!subject) return { problem: "invalid_number" };
      if (!service.canSendCodes()) return { problem: "unavailable" };
      const subjectHash = await hashes.subject(subjectIdentity("whatsapp", subject));
      const recent = await store.countWebRequests(
        subjectHash,
        new Date(deps.now() - 24 * 3600_000),
      );
      const filed = await newRequest({
        filing_client_id: null,
        type: input.type,
        channel: "web",
        subject_kind: "whatsapp",
        details_ciphertext: input.type === "correction" && input.correctedName
          ? await seal({ profile_name: input.correctedName })
          : null,
        verification_method: "whatsapp_code",
        filed_by: "subject",
        subject_request_ids: [input.httpRequestId],
      }, subject);
      if (recent < WEB_REQUESTS_PER_SUBJECT_PER_DAY) await sendCode(filed.request.id, subject);
      return { code: filed.code };
    },

    /** A request by its confirmation code (as typed), or null. */
    async find(code: string): Promise<RequestWithParts | null> {
      const normalised = normaliseConfirmationCode(code);
      if (!normalised) return null;
      return await store.findByReference(await hashes.reference(normalised));
    },

    async status(code: string): Promise<RequestView | null> {
      const request = await service.find(code);
      return request ? await view(request, "subject") : null;
    },

    async resendCode(code: string, httpRequestId: string): Promise<CodeSent | "not_found"> {
      const request = await service.find(code);
      if (!request) return "not_found";
      if (request.status !== "unverified") return "closed";
      await store.addSubjectRequestId(request.id, httpRequestId);
      const sealed = await store.sealedSubject(request.id);
      const subject = await unseal<PrivacySubject>(sealed?.subject_ciphertext ?? null);
      if (!subject) return "closed";
      return await sendCode(request.id, subject, request.filing_client_id ?? undefined);
    },

    /**
     * Checks a one-time code. An attempt is spent before the comparison (in constant time), so
     * no number of concurrent guesses gets past CODE_MAX_ATTEMPTS. A verified consent withdrawal
     * is carried out before this returns: messaging stops at once.
     */
    async verifyCode(code: string, typed: string, httpRequestId: string): Promise<VerifyOutcome> {
      const request = await service.find(code);
      if (!request) return { outcome: "not_found" };
      if (request.status !== "unverified") return { outcome: "already", status: request.status };
      await store.addSubjectRequestId(request.id, httpRequestId);
      const digits = normaliseVerificationCode(typed);
      if (!digits) return { outcome: "invalid_code" };
      const attempt = await store.takeCodeAttempt(request.id);
      if (attempt.outcome !== "attempt") return { outcome: attempt.outcome };
      const expected = await hashes.verificationCode(request.id, digits);
      if (!sameHash(attempt.code_hash, expected)) {
        const remaining = attempt.max_attempts - attempt.attempts;
        return remaining > 0 ? { outcome: "wrong_code", remaining } : { outcome: "locked" };
      }
      const sealed = await store.sealedSubject(request.id);
      const subject = await unseal<PrivacySubject>(sealed?.subject_ciphertext ?? null) ?? {};
      const verified = await store.verify(
        request.id,
        { waId: subject.waId, userId: subject.userId },
        config.senderClientId,
      );
      if (verified.outcome === "already") {
        return { outcome: "already", status: verified.status ?? "verified" };
      }
      if (request.type === "consent_withdrawal") {
        // messaging stops before the page answers: the parts' jobs run now, in this request,
        // through the consumer like every job (the sweeper rings any this leaves unfinished)
        await deps.runJobs(
          (await store.partIdsOf(request.id)).map((p) => ({
            kind: "privacy_part" as const,
            clientId: p.client_id,
            partId: p.id,
          })),
        );
      }
      return { outcome: "verified" };
    },

    /** A request a client forwards through the API (after its own check of who asked). */
    async fileFromClient(
      principal: { clientId: string; actor: string },
      body: {
        type: RequestType;
        subject: { phone?: string; user_id?: string };
        correction?: { profile_name: string };
        verification:
          | { method: "client_attestation"; attested_by: string; attested_at?: string }
          | { method: "whatsapp_code" };
        external_id?: string;
      },
    ) {
      const subject = subjectFromNumber(body.subject.phone ?? body.subject.user_id ?? "");
      if (!subject) {
        throw new AppError(
          400,
          "invalid_recipient",
          "subject.phone must be a number in international format (or subject.user_id a business-scoped user id)",
        );
      }
      if (body.verification.method === "whatsapp_code") {
        if (!service.canSendCodes()) {
          throw new AppError(
            422,
            "verification_unavailable",
            ERROR_CODES.verification_unavailable.meaning,
          );
        }
        if (!await store.subjectKnown(subject, { only: principal.clientId })) {
          throw new AppError(422, "unknown_subject", ERROR_CODES.unknown_subject.meaning);
        }
      }
      const filed = await newRequest(
        {
          filing_client_id: principal.clientId,
          type: body.type,
          channel: "api",
          ...(body.external_id ? { external_id: body.external_id } : {}),
          subject_kind: "whatsapp",
          details_ciphertext: body.type === "correction" && body.correction
            ? await seal({ profile_name: body.correction.profile_name })
            : null,
          verification_method: body.verification.method,
          ...(body.verification.method === "client_attestation"
            ? {
              attested_by: body.verification.attested_by,
              ...(body.verification.attested_at
                ? { attested_at: body.verification.attested_at }
                : {}),
            }
            : {}),
          filed_by: principal.actor,
        },
        subject,
        { asClient: principal.clientId },
      );
      if (filed.created && body.verification.method === "whatsapp_code") {
        await sendCode(filed.request.id, subject, principal.clientId);
      }
      const request = await store.getForClient(principal.clientId, filed.request.id);
      return {
        created: filed.created,
        // shown once: only its hash is kept (a retry with the same external_id cannot show it)
        confirmationCode: filed.created ? filed.code : null,
        request: await view(request!, { client: principal.clientId }),
      };
    },

    async listForClient(
      clientId: string,
      options: { limit: number; before?: string; status?: RequestWithParts["status"] },
    ) {
      const rows = await store.listForClient(clientId, options);
      return await Promise.all(rows.map((r) => view(r, { client: clientId })));
    },

    async getForClient(clientId: string, id: string) {
      const row = await store.getForClient(clientId, id);
      return row ? await view(row, { client: clientId }) : null;
    },

    /** Meta's data deletion callback, verified by its signature before anything is stored. */
    async fileFromMeta(signedRequest: string | null, appSecret: CryptoKey) {
      const verdict = await verifySignedRequest(signedRequest, appSecret);
      if (!verdict.valid) return verdict;
      // Meta's retries carry the same person and time; the person's id is kept only hashed
      const externalId = `${verdict.request.issuedAt}:${
        (await hashes.subject(`meta:${verdict.request.userId}`)).slice(0, 40)
      }`;
      const filed = await newRequest(
        {
          filing_client_id: null,
          type: "deletion",
          channel: "meta",
          external_id: externalId,
          subject_kind: "meta_user",
          details_ciphertext: null,
          verification_method: "meta_signature",
          filed_by: "meta",
        },
        { metaUserId: verdict.request.userId },
        { code: await derivedCode(`meta:${externalId}`) },
      );
      return { valid: true as const, code: filed.code, created: filed.created };
    },

    /** Gives out an export once: its JSON, or null when the link is forged, used or expired. */
    async downloadExport(token: string): Promise<string | null> {
      const payload = await deps.exportTokens.open("export", token);
      const match = payload ? /^([0-9a-f-]{36})\.([0-9]{1,12})$/.exec(payload) : null;
      if (!match || Number(match[2]) * 1000 <= deps.now()) return null;
      const taken = await store.takeExport(match[1]);
      if (!taken) return null;
      return await decryptField(
        await deps.send.dataKeys.forClient(taken.client_id),
        taken.content_ciphertext,
        `privacy_export:${match[1]}`,
      );
    },

    runPart,

    /** Due parts as jobs (the sweeper's), after the workflow's own housekeeping. */
    async due(limit: number): Promise<Job[]> {
      await store.expireWork(1000);
      return (await store.duePartIds(limit)).map((p) => ({
        kind: "privacy_part" as const,
        clientId: p.client_id,
        partId: p.id,
      }));
    },
  };

  const intake: ShopifyComplianceIntake = {
    async fileShopifyCompliance(input) {
      const parsed = ShopifyCompliancePayloads[input.topic].safeParse(input.payload);
      if (!parsed.success) {
        throw new AppError(400, "invalid_payload", `The ${input.topic} body is not as documented`);
      }
      const body = parsed.data as {
        shop_domain: string;
        customer?: { id?: number | string; email?: string | null; phone?: string | null };
      };
      const shopDomain = body.shop_domain.toLowerCase();
      const phone = body.customer?.phone ? subjectFromNumber(body.customer.phone) : null;
      const subject: PrivacySubject = input.topic === "shop/redact" ? { shopDomain } : {
        ...phone,
        shopDomain,
        ...(body.customer?.id !== undefined ? { shopifyCustomerId: String(body.customer.id) } : {}),
        ...(body.customer?.email ? { email: body.customer.email } : {}),
      };
      const externalId = `${input.topic}:${input.webhookId}`.slice(0, 200);
      const filed = await newRequest(
        {
          filing_client_id: input.clientId,
          type: input.topic === "customers/data_request" ? "access" : "deletion",
          channel: "shopify",
          external_id: externalId,
          subject_kind: input.topic === "shop/redact" ? "shopify_shop" : "shopify_customer",
          details_ciphertext: null,
          verification_method: "shopify_signature",
          filed_by: "shopify",
        },
        subject,
        {
          asClient: input.clientId,
          code: await derivedCode(`shopify:${input.clientId}:${externalId}`),
        },
      );
      return { requestId: filed.request.id, confirmationCode: filed.code, created: filed.created };
    },
  };

  return { ...service, intake };
}

export type PrivacyService = ReturnType<typeof privacyRequests>;
