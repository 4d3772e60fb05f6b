/**
 * The TypeScript client of the glooft-edge API, generated from its OpenAPI document
 * (`deno task openapi generate` in the repository) and built on openapi-fetch.
 *
 * @example
 * ```ts
 * import { createClient, verifyWebhook } from "@glooft/edge-client";
 * const glooft = createClient({ baseUrl: "https://edge.example.com", apiKey: "glf_live_…" });
 * const { message } = await glooft.sendMessage({
 *   body: { to: "+44 7700 900123", type: "template", template: { name: "order_update", language: { code: "en_US" } } },
 *   idempotencyKey: "order-1001-shipped",
 * });
 * ```
 */
export {
  type CallInput,
  type CallOutput,
  createClient,
  type GlooftClient,
  type GlooftClientOptions,
  type OperationId,
  type Operations,
  type PaginatedOperationId,
} from "./client.ts";
export { type ErrorEnvelope, GlooftError } from "./errors.ts";
export {
  verifyWebhook,
  type VerifyWebhookOptions,
  WEBHOOK_HEADERS,
  type WebhookEvent,
  type WebhookEventOf,
  type WebhookEventType,
  type WebhookInput,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from "./webhooks.ts";
export type { components, operations, paths, webhooks } from "./generated/schema.ts";
