/**
 * Who a data-subject request is about. A person who writes to a client's WhatsApp number is known
 * by their number (wa_id) or business-scoped user id; Meta's callback names a Facebook user of
 * our app by an app-scoped id; Shopify names a shop's customer or a whole shop.
 */

export type SubjectKind = "whatsapp" | "meta_user" | "shopify_customer" | "shopify_shop";

export interface PrivacySubject {
  /** WhatsApp number digits, as wa_id holds them */
  waId?: string;
  /** Meta's business-scoped user id */
  userId?: string;
  email?: string;
  shopifyCustomerId?: string;
  shopDomain?: string;
  metaUserId?: string;
}

export const REQUEST_TYPES = ["access", "correction", "deletion", "consent_withdrawal"] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/**
 * The one string a subject is hashed as, so that two requests about the same person match
 * whatever channel they came through (the strongest identifier first).
 */
export function subjectIdentity(kind: SubjectKind, subject: PrivacySubject): string {
  switch (kind) {
    case "meta_user":
      return `meta:${subject.metaUserId}`;
    case "shopify_shop":
      return `shopify:${subject.shopDomain}`;
    default:
      if (subject.waId) return `wa:${subject.waId}`;
      if (subject.userId) return `bsuid:${subject.userId}`;
      return `shopify:${subject.shopDomain}:customer:${subject.shopifyCustomerId ?? subject.email}`;
  }
}
