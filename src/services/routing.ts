import type { SupabaseClient } from "@supabase/supabase-js";

export interface PhoneRoute {
  clientId: string;
  /** our id of the phone number row */
  phoneId: string;
}

const TTL_MS = 60_000;
/**
 * Meta's ids as phone_numbers and whatsapp_business_accounts hold them (their checks): anything
 * else is nobody's, found without a lookup, which it could fail (a NUL in a query string)
 */
const META_ID = /^[0-9]{1,32}$/;

/**
 * Finds which client owns a Meta phone number id or WABA id. A cross-tenant lookup (the webhook
 * names no client), so it uses the service role; answers, including "nobody", are cached briefly
 * per isolate so a burst of webhooks costs one query per number.
 */
export function webhookRouter(service: SupabaseClient, now: () => number = Date.now) {
  const phones = new Map<string, { route: PhoneRoute | null; until: number }>();
  const wabas = new Map<string, { clientId: string | null; until: number }>();

  return {
    async phone(phoneNumberId: string): Promise<PhoneRoute | null> {
      if (!META_ID.test(phoneNumberId)) return null;
      const hit = phones.get(phoneNumberId);
      if (hit && hit.until > now()) return hit.route;
      const { data, error } = await service.from("phone_numbers").select("id, client_id")
        .eq("phone_number_id", phoneNumberId).maybeSingle();
      if (error) throw new Error(`Could not route phone number: ${error.message}`);
      const route = data
        ? { clientId: data.client_id as string, phoneId: data.id as string }
        : null;
      if (phones.size > 10_000) phones.clear();
      phones.set(phoneNumberId, { route, until: now() + TTL_MS });
      return route;
    },
    async waba(wabaId: string): Promise<string | null> {
      if (!META_ID.test(wabaId)) return null;
      const hit = wabas.get(wabaId);
      if (hit && hit.until > now()) return hit.clientId;
      const { data, error } = await service.from("whatsapp_business_accounts").select("client_id")
        .eq("waba_id", wabaId).maybeSingle();
      if (error) throw new Error(`Could not route WABA: ${error.message}`);
      const clientId = (data?.client_id as string | undefined) ?? null;
      wabas.set(wabaId, { clientId, until: now() + TTL_MS });
      return clientId;
    },
  };
}

export type WebhookRouter = ReturnType<typeof webhookRouter>;
