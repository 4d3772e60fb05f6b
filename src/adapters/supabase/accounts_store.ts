import type { AccountEvent, BusinessAccount, WhatsAppAccountStore } from "../../ports/accounts.ts";
import { DatabaseError } from "../../core/errors.ts";
import type { DatabaseAccess } from "./database.ts";

/** WhatsApp accounts and numbers in PostgREST. */
export function whatsAppAccountStore(db: DatabaseAccess): WhatsAppAccountStore {
  return {
    async phoneRoute(phoneNumberId) {
      const { data, error } = await db.service.from("phone_numbers").select("id, client_id")
        .eq("phone_number_id", phoneNumberId).maybeSingle();
      if (error) throw new Error(`Could not route phone number: ${error.message}`);
      return data ? { clientId: data.client_id as string, phoneId: data.id as string } : null;
    },
    async wabaClient(wabaId) {
      const { data, error } = await db.service.from("whatsapp_business_accounts")
        .select("client_id").eq("waba_id", wabaId).maybeSingle();
      if (error) throw new Error(`Could not route WABA: ${error.message}`);
      return (data?.client_id as string | undefined) ?? null;
    },
    async businessAccounts(clientId, pick = {}) {
      let query = db.forClient(clientId).from("whatsapp_business_accounts").select("id, waba_id");
      if (pick.wabaId !== undefined) query = query.eq("waba_id", pick.wabaId);
      if (pick.id !== undefined) query = query.eq("id", pick.id);
      const { data, error } = await query.order("waba_id");
      if (error) throw new DatabaseError("Could not list WhatsApp Business accounts", error);
      return data as BusinessAccount[];
    },
    async accessToken(clientId, wabaAccountId) {
      const { data, error } = await db.forClient(clientId).from("whatsapp_business_accounts")
        .select("waba_id, access_token_ciphertext").eq("id", wabaAccountId).maybeSingle();
      if (error) throw new Error(`Could not read the access token: ${error.message}`);
      if (!data?.access_token_ciphertext) return null;
      return { wabaId: data.waba_id as string, ciphertext: data.access_token_ciphertext as string };
    },
    async events(clientId, filter) {
      let query = db.forClient(clientId).from("whatsapp_account_events")
        .select("id, waba_id, phone_number_id, field, value, received_at");
      if (filter.field) query = query.eq("field", filter.field);
      if (filter.before) query = query.lt("id", filter.before);
      const { data, error } = await query.order("id", { ascending: false }).limit(filter.limit);
      if (error) throw new DatabaseError("Could not list account events", error);
      return data as AccountEvent[];
    },
  };
}
