/**
 * Meta webhook payloads built in code (never pasted traffic), in the documented envelope shape.
 * Signatures are real: the channel helper signs the exact bytes it posts.
 */
let seq = 0;
export const wamid = () =>
  `wamid.HBgL${crypto.randomUUID().replaceAll("-", "").toUpperCase()}${++seq}`;
const ts = (date = new Date()) => String(Math.floor(date.getTime() / 1000));

export function envelope(
  wabaId: string,
  phoneNumberId: string,
  value: Record<string, unknown>,
  field = "messages",
) {
  return {
    object: "whatsapp_business_account",
    entry: [{
      id: wabaId,
      changes: [{
        field,
        value: {
          messaging_product: "whatsapp",
          metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
          ...value,
        },
      }],
    }],
  };
}

export function inbound(
  from: string,
  type: string,
  body: Record<string, unknown>,
  options: { id?: string; name?: string; at?: Date; userId?: string } = {},
) {
  return {
    contacts: [{
      profile: { name: options.name ?? "Ana" },
      wa_id: from,
      ...(options.userId ? { user_id: options.userId } : {}),
    }],
    messages: [{ from, id: options.id ?? wamid(), timestamp: ts(options.at), type, ...body }],
  };
}

export function status(
  id: string,
  value: "sent" | "delivered" | "read" | "failed",
  options: { at?: Date; recipient?: string; callback?: string; errors?: unknown[] } = {},
) {
  return {
    statuses: [{
      id,
      status: value,
      timestamp: ts(options.at),
      recipient_id: options.recipient ?? "447700900123",
      ...(options.callback ? { biz_opaque_callback_data: options.callback } : {}),
      ...(value === "sent" || value === "delivered"
        ? {
          pricing: { billable: true, pricing_model: "PMP", category: "utility", type: "regular" },
        }
        : {}),
      ...(options.errors ? { errors: options.errors } : {}),
    }],
  };
}
