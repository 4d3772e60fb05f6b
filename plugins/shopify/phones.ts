import { type CountryCode, parsePhoneNumberWithError } from "libphonenumber-js/min";
import type { OrderInfo } from "./payloads.ts";

/**
 * Which of an order's numbers a notification goes to, in E.164. `libphonenumber-js/min` is the
 * smallest metadata build that still knows every country's calling code, national prefix and
 * number lengths (it validates by length, which is what deciding "usable or not" needs here);
 * plugins/shopify/README.md gives its size in the Worker.
 *
 * Shopify stores address phones as free text: `098470 12345` in an Indian address, `00420…` for a
 * Czech one, a Japanese `090…`. Each is read with the country of the address it belongs to, so a
 * national number gets its country code and a leading trunk 0 is dropped; a number that still
 * does not parse or has the wrong length for its country is not guessed at.
 */

export type Recipient =
  | { ok: true; e164: string; source: PhoneSource }
  | { ok: false; reason: "no_phone" | "invalid_phone" };

export type PhoneSource = "order" | "shipping" | "customer" | "billing";

/** longer than any number with its formatting: anything longer is not one */
const MAX_PHONE_CHARS = 64;

/** The number in E.164, or null when it cannot be one (in `country`, when it has no +). */
export function normalisePhone(raw: string, country: string | null): string | null {
  const text = raw.trim();
  if (!text || text.length > MAX_PHONE_CHARS) return null;
  try {
    const parsed = parsePhoneNumberWithError(
      text,
      country ? { defaultCountry: country as CountryCode } : undefined,
    );
    return parsed.isValid() ? parsed.number : null;
  } catch {
    // not a number, too short or long, or an unknown country: not usable
    return null;
  }
}

/**
 * The first usable of the order's contact phone, the shipping address', the customer's and the
 * billing address' numbers. The contact and customer numbers are read with the shipping (then
 * billing, then the customer's own address') country, each address phone with its own address'
 * country; `defaultCountry` is the merchant's fallback when an address has none.
 */
export function pickRecipient(order: OrderInfo, defaultCountry?: string | null): Recipient {
  const c = order.countries;
  const fallback = defaultCountry ?? null;
  const candidates: Array<[PhoneSource, string | null, string | null]> = [
    ["order", order.phones.order, c.shipping ?? c.billing ?? c.customer ?? fallback],
    ["shipping", order.phones.shipping, c.shipping ?? fallback],
    ["customer", order.phones.customer, c.customer ?? c.shipping ?? c.billing ?? fallback],
    ["billing", order.phones.billing, c.billing ?? c.shipping ?? fallback],
  ];
  let seen = false;
  for (const [source, raw, country] of candidates) {
    if (!raw?.trim()) continue;
    seen = true;
    const e164 = normalisePhone(raw, country);
    if (e164) return { ok: true, e164, source };
  }
  return { ok: false, reason: seen ? "invalid_phone" : "no_phone" };
}
