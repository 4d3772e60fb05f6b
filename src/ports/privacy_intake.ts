/**
 * How a plugin hands the privacy workflow a compliance request it received and verified (the
 * Shopify plugin: its webhook checked `X-Shopify-Hmac-Sha256` before calling this). Each topic
 * becomes a data-subject request of the installation's client, verified by the provider's
 * signature; a provider's retry (the same webhook id) files nothing new.
 */
export type ShopifyComplianceTopic = "customers/data_request" | "customers/redact" | "shop/redact";

export interface ShopifyComplianceRequest {
  /** the client whose installation received the webhook */
  clientId: string;
  topic: ShopifyComplianceTopic;
  /** the webhook's JSON body, as Shopify sent it */
  payload: unknown;
  /** `X-Shopify-Webhook-Id`: the same on every retry of one delivery */
  webhookId: string;
}

export interface ShopifyComplianceIntake {
  fileShopifyCompliance(
    request: ShopifyComplianceRequest,
  ): Promise<{ requestId: string; confirmationCode: string; created: boolean }>;
}
