import { buildEnvelope, buildInbound, buildStatus, newWamid } from "./meta_payloads.ts";

/**
 * Short forms of the builders in meta_payloads.ts for tests that post to a channel: one WABA, one
 * business number, and a `value` of contacts/messages or statuses. Signatures are made by the
 * channel helper over the exact bytes it posts.
 */
export const wamid = newWamid;

export function envelope(
  wabaId: string,
  phoneNumberId: string,
  value: Record<string, unknown>,
  field = "messages",
) {
  return buildEnvelope([{
    field,
    value: {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
      ...value,
    },
  }], { wabaId });
}

export function inbound(
  from: string,
  type: string,
  body: Record<string, unknown>,
  options: { id?: string; name?: string; at?: Date; userId?: string } = {},
) {
  const { contact, message } = buildInbound({
    type,
    payload: body[type],
    waId: from,
    id: options.id,
    at: options.at,
    name: options.name ?? "Ana",
    userId: options.userId,
  });
  return { contacts: [contact], messages: [message] };
}

export function status(
  id: string,
  value: "sent" | "delivered" | "read" | "failed",
  options: { at?: Date; recipient?: string; callback?: string; errors?: unknown[] } = {},
) {
  return {
    statuses: [buildStatus({
      id,
      status: value,
      at: options.at,
      recipientId: options.recipient ?? "447700900123",
      callback: options.callback,
      errors: options.errors,
    })],
  };
}
