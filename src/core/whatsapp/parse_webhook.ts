// PROVISIONAL (lead): minimal version so the tree type-checks until the full parser lands.
export interface InboundMessageEvent {
  kind: "message";
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  wamid: string;
  waId: string | null;
  userId: string | null;
  profileName: string | null;
  timestamp: string;
  type: string;
  text: string | null;
  media: { id: string; mimeType: string; sha256?: string; filename?: string; caption?: string } | null;
  content: Record<string, unknown>;
  contextWamid: string | null;
  raw: unknown;
}
export interface StatusEvent {
  kind: "status";
  wabaId: string;
  phoneNumberId: string;
  wamid: string;
  status: string;
  timestamp: string;
  recipientId: string | null;
  recipientUserId: string | null;
  bizOpaqueCallbackData: string | null;
  pricing: Record<string, unknown> | null;
  conversationId: string | null;
  errors: Array<{ code: number; title: string; message?: string; details?: string }>;
  raw: unknown;
}
export interface FieldEvent {
  kind: "field";
  wabaId: string;
  phoneNumberId: string | null;
  field: string;
  value: unknown;
}
export type MetaEvent = InboundMessageEvent | StatusEvent | FieldEvent;

const iso = (ts: unknown) => new Date(Number(ts) * 1000).toISOString();

export function parseMetaWebhook(
  body: unknown,
): { ok: true; events: MetaEvent[] } | { ok: false; error: string } {
  const b = body as { object?: string; entry?: Array<Record<string, any>> };
  if (b?.object !== "whatsapp_business_account" || !Array.isArray(b.entry)) {
    return { ok: false, error: "Not a WhatsApp Business Account webhook" };
  }
  const events: MetaEvent[] = [];
  for (const entry of b.entry) {
    for (const change of entry.changes ?? []) {
      const v = change.value ?? {};
      const phone = v.metadata?.phone_number_id ?? null;
      if (change.field !== "messages" || (!v.messages && !v.statuses)) {
        events.push({ kind: "field", wabaId: entry.id, phoneNumberId: phone, field: change.field, value: v });
        continue;
      }
      for (const m of v.messages ?? []) {
        const contact = (v.contacts ?? []).find((c: any) => c.wa_id === m.from) ?? v.contacts?.[0];
        const typed = m[m.type] ?? {};
        events.push({
          kind: "message",
          wabaId: entry.id,
          phoneNumberId: phone,
          displayPhoneNumber: v.metadata?.display_phone_number ?? "",
          wamid: m.id,
          waId: m.from ?? null,
          userId: m.from_user_id ?? contact?.user_id ?? null,
          profileName: contact?.profile?.name ?? null,
          timestamp: iso(m.timestamp),
          type: m.type,
          text: m.text?.body ?? typed.caption ?? m.button?.text ?? null,
          media: typed.id ? { id: typed.id, mimeType: typed.mime_type, sha256: typed.sha256 } : null,
          content: typed,
          contextWamid: m.context?.id ?? null,
          raw: m,
        });
      }
      for (const s of v.statuses ?? []) {
        events.push({
          kind: "status",
          wabaId: entry.id,
          phoneNumberId: phone,
          wamid: s.id,
          status: s.status,
          timestamp: iso(s.timestamp),
          recipientId: s.recipient_id ?? null,
          recipientUserId: s.recipient_user_id ?? null,
          bizOpaqueCallbackData: s.biz_opaque_callback_data ?? null,
          pricing: s.pricing ?? null,
          conversationId: s.conversation?.id ?? null,
          errors: (s.errors ?? []).map((e: any) => ({ code: e.code, title: e.title, message: e.message, details: e.error_data?.details })),
          raw: s,
        });
      }
    }
  }
  return { ok: true, events };
}
