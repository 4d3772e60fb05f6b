import * as z from "zod";

/**
 * The bodies of Shopify's mandatory compliance webhooks, only what the privacy workflow uses
 * (shopify.dev, privacy law compliance): a customer by id, email and phone, or a whole shop.
 */
const ShopDomain = z.string().regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/i).max(255);
const Customer = z.object({
  id: z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)]).optional(),
  email: z.string().max(320).nullish(),
  phone: z.string().max(40).nullish(),
});

export const ShopifyCompliancePayloads = {
  "customers/data_request": z.looseObject({
    shop_domain: ShopDomain,
    customer: Customer,
    data_request: z.looseObject({ id: z.union([z.number(), z.string()]) }).optional(),
  }),
  "customers/redact": z.looseObject({ shop_domain: ShopDomain, customer: Customer }),
  "shop/redact": z.looseObject({ shop_domain: ShopDomain }),
} as const;
