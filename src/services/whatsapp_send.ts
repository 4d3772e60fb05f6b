import { sha256 } from "../core/crypto/engine.ts";
import { toHex } from "../core/crypto/hmac.ts";
import { decryptFieldIfReadable, encryptField } from "../core/crypto/envelope.ts";
import { AppError } from "../core/errors.ts";
import { graphBody, isFreeForm, normaliseRecipient } from "../core/messaging/outbound.ts";
import type { SendTemplate } from "../core/whatsapp/templates.ts";
import {
  backoffMs,
  classifyGraphError,
  type GraphError,
  minimumWaitFor,
} from "../core/whatsapp/graph_errors.ts";
import type { ClaimedSend, Job } from "../ports/jobs.ts";
import type { ClaimAnswer, MessageRow } from "../ports/messages.ts";
import type { ClientEventData } from "../core/webhooks/client_events.ts";
import type { ServiceDeps } from "./deps.ts";
import { phonePacer } from "./pacing.ts";

export interface SendRequest {
  to: string;
  type: string;
  phone_number_id?: string;
  /** the Meta-shaped content: { text: {...} } / { template: {...} } / ... plus context */
  content: Record<string, unknown>;
}

export type { MessageRow };

async function requestHash(body: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return toHex(await sha256(bytes));
}

/**
 * Accepts a client's send request: rules first (a template is checked against the template store;
 * consent and the 24-hour window in the enqueue), then one durable queued row (idempotent on the
 * client's Idempotency-Key), then the doorbell. Returns the message and whether it was new. A key
 * that already names a message is answered with that message whatever changed since: the
 * template check's lookup asks for the key in the round trip it makes anyway, and passes.
 */
export async function enqueueMessage(
  deps: Pick<ServiceDeps, "messages" | "dataKeys" | "doorbell" | "now" | "templateCheck">,
  clientId: string,
  request: SendRequest,
  idempotencyKey: string | null,
): Promise<{ message: MessageRow; created: boolean }> {
  const recipient = normaliseRecipient(request.to);
  if (!recipient) {
    throw new AppError(
      400,
      "invalid_recipient",
      "`to` must be a phone number in international format (or a business-scoped user id)",
    );
  }
  if (request.type === "template") {
    const verdict = await deps.templateCheck.check(clientId, {
      template: request.content.template as SendTemplate,
      phoneNumberId: request.phone_number_id ?? null,
      idempotencyKey,
    });
    if (!verdict.ok) {
      throw new AppError(422, verdict.code, verdict.message, { details: verdict.details });
    }
  }
  const id = crypto.randomUUID();
  const key = await deps.dataKeys.forClient(clientId);
  // concurrent requests of one client share one round trip (the store's group commit)
  const result = await deps.messages.enqueue(clientId, {
    id,
    phone_number_id: request.phone_number_id ?? null,
    wa_id: "waId" in recipient ? recipient.waId : null,
    user_id: "userId" in recipient ? recipient.userId : null,
    type: request.type,
    content_ciphertext: await encryptField(key, JSON.stringify(request.content), `message:${id}`),
    free_form: isFreeForm(request.type),
    idempotency_key: idempotencyKey,
    request_hash: idempotencyKey ? await requestHash(request) : null,
  });
  switch (result.outcome) {
    case "created": {
      const job: Job = { kind: "send", clientId, messageId: result.message!.id };
      const claim = result.claim;
      if (claim?.outcome === "claimed") {
        // the enqueue already holds the lease (sendCalls' claimOnEnqueue): the job just sends
        await deps.doorbell.ring([{
          ...job,
          // the content as the client sent it: the job need not decrypt what we just encrypted
          claimed: { message: result.message, phone: claim.phone, content: request.content },
        }]);
      } else if (claim?.outcome === "deferred") {
        await deps.doorbell.ring([job], {
          delayMs: Math.max(0, Date.parse(claim.retry_at) - deps.now()),
        });
      } else {
        await deps.doorbell.ring([job]);
      }
      return { message: result.message!, created: true };
    }
    case "existing":
      return { message: result.message!, created: false };
    case "idempotency_conflict":
      throw new AppError(
        409,
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request body",
      );
    case "opted_out":
      throw new AppError(
        422,
        "contact_opted_out",
        "The contact has opted out of messages from this business; nothing was sent",
      );
    case "outside_window":
      throw new AppError(
        422,
        "outside_customer_service_window",
        "Free-form messages can only be sent within 24 hours of the contact's last message; send an approved template instead",
        { details: { last_inbound_at: result.last_inbound_at ?? null } },
      );
    case "unknown_phone_number":
      throw new AppError(
        422,
        "unknown_phone_number",
        "No such sending phone number for this client; check phone_number_id",
      );
    case "ambiguous_phone_number":
      throw new AppError(
        422,
        "phone_number_required",
        "This client has several phone numbers; say which one sends with phone_number_id",
      );
    case "error":
      throw new Error(`Could not queue the message: ${result.error}`);
    default:
      throw new Error(`Unexpected enqueue outcome ${result.outcome}`);
  }
}

/**
 * Sends a dead-lettered message again, as a new message that names it (`retry_of`): the
 * dead-lettered one stays `failed`, since statuses only move forward and a client was already told
 * it failed (by the API and a `message.status` webhook). The new message goes through every rule of
 * a new send (consent, the 24-hour window, pacing) and is idempotent on the original's id, so
 * calling again returns the same new message and never sends twice.
 */
export async function redriveMessage(
  deps: Pick<ServiceDeps, "messages" | "dataKeys" | "doorbell" | "now" | "templateCheck">,
  clientId: string,
  id: string,
): Promise<{ message: MessageRow; created: boolean }> {
  const original = await deps.messages.deadLetter(clientId, id);
  if (!original) throw new AppError(404, "not_found", "Message not found");
  if (!original.deadLettered) {
    throw new AppError(
      409,
      "not_dead_lettered",
      "Only messages whose retries ran out can be re-driven",
    );
  }
  // only what is this message's own is sent again: content sealed for this row (not absent, not
  // moved from another) and a recipient a send would accept; anything else the client's own token
  // made of the row is the client's to fix, not our failure
  const text = await decryptFieldIfReadable(
    await deps.dataKeys.forClient(clientId),
    original.contentCiphertext,
    `message:${id}`,
  );
  const content = text === null ? null : JSON.parse(text);
  if (
    typeof content !== "object" || content === null || Array.isArray(content) ||
    original.recipient === null || !normaliseRecipient(original.recipient)
  ) {
    throw new AppError(
      409,
      "message_not_resendable",
      "This message's content or recipient is not stored in a form that can be sent again",
    );
  }
  const result = await enqueueMessage(deps, clientId, {
    to: original.recipient,
    type: original.type,
    phone_number_id: original.phoneNumberId,
    content,
  }, `redrive:${id}`);
  if (result.message.retry_of !== id) {
    // set after the enqueue (which knows nothing of re-drives): should this step be lost, the
    // next call finds the same message by its key and links it then
    await deps.messages.linkRedrive(clientId, result.message.id, id);
    result.message.retry_of = id;
  }
  return result;
}

const tokenCache = new Map<string, { token: string; until: number }>();

export async function accessTokenFor(
  deps: Pick<ServiceDeps, "accounts" | "dataKeys" | "now">,
  clientId: string,
  wabaAccountId: string,
): Promise<string | null> {
  const cached = tokenCache.get(wabaAccountId);
  if (cached && cached.until > deps.now()) return cached.token;
  const stored = await deps.accounts.accessToken(clientId, wabaAccountId);
  if (!stored) return null;
  // a token that does not open is no token: the send fails with no_access_token (set it again)
  // rather than throwing at every attempt
  const token = await decryptFieldIfReadable(
    await deps.dataKeys.forClient(clientId),
    stored.ciphertext,
    `wa_token:${stored.wabaId}`,
  );
  if (token === null) return null;
  tokenCache.set(wabaAccountId, { token, until: deps.now() + 300_000 });
  return token;
}

const pacer = phonePacer();
/** Meta's template errors: missing, not approved, parameters, paused, disabled */
const TEMPLATE_ERRORS = new Set([132000, 132001, 132005, 132007, 132012, 132015, 132016]);

function parseJsonOrNull(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

type SendOutcome =
  | "accepted"
  | "retry"
  | "ambiguous"
  | "failed"
  | "dead_lettered"
  | "deferred"
  | "busy"
  | "done";

/**
 * Step 4: one send attempt. Claims the message (a lease, and the per-recipient gap), calls the
 * Graph API, and records the outcome without moving a status backwards. A lost response is
 * "ambiguous": we wait for a status webhook naming our id before sending again, so a message Meta
 * accepted is never sent twice.
 */
export async function sendQueuedMessage(
  deps: ServiceDeps,
  sendJob: { clientId: string; messageId: string; claimed?: ClaimedSend },
): Promise<{ outcome: SendOutcome; retryAt?: number }> {
  // a job rung again (retry, deferral) claims afresh: its lease is not carried
  const job = { clientId: sendJob.clientId, messageId: sendJob.messageId };
  // concurrent sends of one client share one round trip (lease length and recipient gap are set
  // where deps.messages is built, src/compose.ts); a message claimed by its enqueue skips it
  const c: ClaimAnswer = sendJob.claimed
    ? { outcome: "claimed", ...sendJob.claimed }
    : await deps.messages.claim(job.clientId, job.messageId);
  if (c.outcome === "deferred" || c.outcome === "not_due") {
    const retryAt = Date.parse(c.retry_at!);
    await deps.doorbell.ring([{ kind: "send", ...job }], {
      delayMs: Math.max(0, retryAt - deps.now()),
    });
    return { outcome: "deferred", retryAt };
  }
  if (c.outcome === "locked") return { outcome: "busy" };
  if (c.outcome !== "claimed") return { outcome: "done" };
  const message = c.message as MessageRow;
  const phone = c.phone!;

  const record = (result: Record<string, unknown>) =>
    deps.messages.record(job.clientId, message.id, result);
  const fail = async (
    err: GraphError | { code: string | number; title: string; details?: string | null },
    deadLetter = false,
  ) => {
    const error = { code: err.code, title: err.title, details: err.details ?? null };
    await record({ outcome: "failed", error, dead_letter: deadLetter });
    const jobs = await deps.events.publish([{
      clientId: job.clientId,
      type: "message.status",
      data: {
        message_id: message.id,
        wamid: message.wamid,
        status: "failed",
        occurred_at: new Date(deps.now()).toISOString(),
        errors: [error],
      } satisfies ClientEventData<"message.status">,
    }]);
    if (jobs.length) await deps.doorbell.ring(jobs);
    return { outcome: deadLetter ? "dead_lettered" as const : "failed" as const };
  };

  const token = await accessTokenFor(deps, job.clientId, phone.waba_account_id);
  if (!token) {
    return await fail({
      code: "no_access_token",
      title: "The WhatsApp Business account has no access token configured",
    });
  }
  const sealed = sendJob.claimed?.content ? null : await decryptFieldIfReadable(
    await deps.dataKeys.forClient(job.clientId),
    message.content_ciphertext,
    `message:${message.id}`,
  );
  // a row whose content or recipient is not its own (written past the API: an operator's SQL, a
  // bug) fails alone, for good, instead of throwing at every sweep and holding its batch
  const content = sendJob.claimed?.content ?? parseJsonOrNull(sealed);
  if (!content || !message.recipient) {
    return await fail({
      code: "message_not_resendable",
      title: "The message's stored content or recipient cannot be read; send it again",
    });
  }
  const wait = pacer.reserve(phone.phone_number_id, phone.messages_per_second);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));

  const sent = await deps.graph.sendMessage(
    phone.phone_number_id,
    token,
    graphBody({ id: message.id, recipient: message.recipient, type: message.type }, content),
  );
  if (sent.ok) {
    await record({ outcome: "accepted", wamid: sent.value.wamid });
    return { outcome: "accepted" };
  }
  const error = sent.error;
  const klass = classifyGraphError(error);
  deps.logger.warn("graph_send_failed", {
    message_id: message.id,
    code: error.code,
    http_status: error.httpStatus,
    kind: error.kind,
    class: klass,
    attempt: message.attempts,
  });
  if (klass === "token") {
    tokenCache.delete(phone.waba_account_id);
    const jobs = await deps.events.publish([{
      clientId: job.clientId,
      type: "account.alert",
      data: {
        reason: "access_token_invalid",
        code: error.code,
        title: error.title,
        phone_number_id: phone.phone_number_id,
      } satisfies ClientEventData<"account.alert">,
    }]);
    if (jobs.length) await deps.doorbell.ring(jobs);
    deps.logger.error("access_token_invalid", { client_id: job.clientId, code: error.code });
    return await fail(error);
  }
  if (klass === "terminal") {
    // Meta knows the template otherwise than the store does: the store catches up
    if (TEMPLATE_ERRORS.has(error.code)) {
      await deps.doorbell.ring([{
        kind: "template_sync",
        clientId: job.clientId,
        wabaAccountId: phone.waba_account_id,
      }]);
    }
    return await fail(error);
  }
  if (message.attempts >= deps.env.SEND_MAX_ATTEMPTS) return await fail(error, true);
  const ambiguous = error.kind !== "graph";
  const delay = ambiguous ? deps.env.SEND_AMBIGUOUS_WAIT_MS : backoffMs(message.attempts, {
    baseMs: deps.env.SEND_BACKOFF_BASE_MS,
    minMs: Math.min(minimumWaitFor(error.code), deps.env.SEND_BACKOFF_BASE_MS * 6),
  });
  const retryAt = deps.now() + delay;
  await record({
    outcome: ambiguous ? "ambiguous" : "retry",
    retry_at: new Date(retryAt).toISOString(),
    error: { code: error.code, title: error.title, details: error.details },
  });
  await deps.doorbell.ring([{ kind: "send", ...job }], { delayMs: delay });
  return { outcome: ambiguous ? "ambiguous" : "retry", retryAt };
}

/** Marks an inbound message as read at Meta (synchronous: the client wants to know it worked). */
export async function markRead(
  deps: ServiceDeps,
  clientId: string,
  wamid: string,
  phoneNumberId: string | null,
): Promise<void> {
  const phone = await deps.messages.inboundPhone(clientId, wamid);
  if (!phone || (phoneNumberId && phone.phone_number_id !== phoneNumberId)) {
    throw new AppError(404, "not_found", "No inbound message with this wamid for this client");
  }
  const token = await accessTokenFor(deps, clientId, phone.waba_account_id);
  if (!token) {
    throw new AppError(
      422,
      "no_access_token",
      "The WhatsApp Business account has no access token configured",
    );
  }
  const result = await deps.graph.markRead(phone.phone_number_id, token, wamid);
  if (!result.ok) {
    throw new AppError(502, "graph_error", `The Graph API refused: ${result.error.title}`, {
      details: { code: result.error.code, details: result.error.details },
    });
  }
}
