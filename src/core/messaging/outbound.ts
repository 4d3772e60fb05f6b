/**
 * Pure rules about outbound messages, shared by the API (before enqueueing) and the sender.
 */

import { isUuid } from "../ids.ts";

/** Types Meta lets a business send only inside the 24-hour customer service window. */
export function isFreeForm(type: string): boolean {
  return type !== "template";
}

/** WhatsApp ids are phone digits without '+'; accept what people type (+44 20 7946 0958). */
export function normaliseRecipient(to: string): { waId: string } | { userId: string } | null {
  const trimmed = to.trim();
  // business-scoped user ids look like "US.13491208655302741918" (country code, dot, id)
  if (/^[A-Z]{2}\.[A-Za-z0-9.]{1,128}$/.test(trimmed)) return { userId: trimmed };
  const digits = trimmed.replace(/[\s().-]/g, "").replace(/^\+/, "").replace(/^00/, "");
  return /^[1-9][0-9]{6,14}$/.test(digits) ? { waId: digits } : null;
}

/**
 * How a client names a contact in a URL or filter: our contact id, a phone number or a
 * business-scoped user id. Null for anything else, so no other string reaches a query.
 */
export function parseContactRef(
  ref: string,
): { id: string } | { waId: string } | { userId: string } | null {
  if (isUuid(ref)) return { id: ref.toLowerCase() };
  return normaliseRecipient(ref);
}

/** The Graph API body for a stored message; our id rides along to match statuses by it. */
export function graphBody(
  message: { id: string; recipient: string; type: string },
  content: Record<string, unknown>,
): Record<string, unknown> {
  const to = /^[A-Z]{2}\./.test(message.recipient)
    ? { recipient: message.recipient }
    : { to: message.recipient };
  return {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    ...to,
    type: message.type,
    ...content,
    biz_opaque_callback_data: message.id,
  };
}
