/**
 * What making a request body storable (src/adapters/supabase/storable.ts) costs next to what
 * postgrest-js already does to it (`deno bench -A bench/storable_bench.ts`). The body is one
 * client's share of a batch of 100 webhook deliveries, as ingest_whatsapp_batch receives it: one
 * inbound message and one status per delivery, content and names as ciphertext.
 */
import { shallowJson, storableJson } from "../src/adapters/supabase/storable.ts";

const b64 = (n: number) => crypto.getRandomValues(new Uint8Array(n)).toBase64();
const batch = {
  messages: Array.from({ length: 100 }, (_, i) => ({
    id: crypto.randomUUID(),
    phone_number_id: crypto.randomUUID(),
    wa_id: `4477009${String(i).padStart(5, "0")}`,
    user_id: null,
    profile_name_ciphertext: `e1.${b64(40)}`,
    wamid: `wamid.HBgL${b64(24)}`,
    type: "text",
    content_ciphertext: `e1.${b64(120)}`,
    media: null,
    context_wamid: null,
    timestamp: "2026-12-01T10:00:00.000Z",
  })),
  statuses: Array.from({ length: 100 }, () => ({
    wamid: `wamid.HBgL${b64(24)}`,
    status: "delivered",
    occurred_at: "2026-12-01T10:00:01.000Z",
    pricing: { billable: true, pricingModel: "PMP", category: "utility", type: "regular" },
    errors: null,
    conversation_id: null,
    message_id: crypto.randomUUID(),
  })),
  fields: [],
};
// postgrest-js serialises every body with this replacer
const serialise = (v: unknown) =>
  JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));
const clean = serialise({ batch });
const withNul = clean.replace("wamid.HBgL", "wamid.\\u0000HBgL");
const accountUpdate = {
  phone_number: "15550783881",
  event: "VERIFIED_ACCOUNT",
  ban_info: { waba_ban_state: ["SCHEDULE_FOR_DISABLE"], waba_ban_date: "2026-12-01" },
};

Deno.bench({
  name: `postgrest-js's JSON.stringify of the body (${clean.length} characters), for scale`,
  baseline: true,
  group: "body",
  fn: () => void serialise({ batch }),
});
Deno.bench({
  name: "storableJson: the same body's text, nothing to change (every body but a hostile one)",
  group: "body",
  fn: () => void storableJson(clean),
});
Deno.bench({
  name: "storableJson: the same with one NUL in a wamid",
  group: "body",
  fn: () => void storableJson(withNul),
});
Deno.bench("shallowJson: an account_update field's value (fields only)", () => {
  shallowJson(accountUpdate);
});
