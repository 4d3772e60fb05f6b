import type { PhoneRoute, WhatsAppAccountStore } from "../ports/accounts.ts";

export type { PhoneRoute };

const TTL_MS = 60_000;
/**
 * Meta's ids as phone_numbers and whatsapp_business_accounts hold them (their checks): anything
 * else is nobody's, found without a lookup, which it could fail (a NUL in a query string)
 */
const META_ID = /^[0-9]{1,32}$/;

/**
 * Finds which client owns a Meta phone number id or WABA id. A cross-tenant lookup (the webhook
 * names no client); answers, including "nobody", are cached briefly per isolate so a burst of
 * webhooks costs one query per number.
 */
export function webhookRouter(accounts: WhatsAppAccountStore, now: () => number = Date.now) {
  const phones = new Map<string, { route: PhoneRoute | null; until: number }>();
  const wabas = new Map<string, { clientId: string | null; until: number }>();

  return {
    async phone(phoneNumberId: string): Promise<PhoneRoute | null> {
      if (!META_ID.test(phoneNumberId)) return null;
      const hit = phones.get(phoneNumberId);
      if (hit && hit.until > now()) return hit.route;
      const route = await accounts.phoneRoute(phoneNumberId);
      if (phones.size > 10_000) phones.clear();
      phones.set(phoneNumberId, { route, until: now() + TTL_MS });
      return route;
    },
    async waba(wabaId: string): Promise<string | null> {
      if (!META_ID.test(wabaId)) return null;
      const hit = wabas.get(wabaId);
      if (hit && hit.until > now()) return hit.clientId;
      const clientId = await accounts.wabaClient(wabaId);
      wabas.set(wabaId, { clientId, until: now() + TTL_MS });
      return clientId;
    },
  };
}

export type WebhookRouter = ReturnType<typeof webhookRouter>;
