import { importHmacKey } from "../../../core/crypto/hmac.ts";
import { Hono } from "hono";
import { constantTimeEqual } from "../../../core/auth/api_keys.ts";
import { AppError } from "../../../core/errors.ts";
import { metaEnvelopeProblem } from "../../../core/whatsapp/parse_webhook.ts";
import { verifyMetaSignature } from "../../../core/whatsapp/signature.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import { recordMetaWebhook } from "../../../services/whatsapp_inbox.ts";
import { limitBody } from "../../middleware/limit_body.ts";
import type { AppEnv } from "../../types.ts";

/**
 * Meta's webhook endpoint. GET is the subscription handshake (no signature on GET). POST bodies
 * are verified over the raw bytes before anything is parsed or stored, recorded durably, and
 * acknowledged at once; processing happens after the answer (README: the event flow).
 *
 * Before the answer, work is bounded by the body's size (at most WEBHOOK_MAX_BODY_BYTES) and
 * does not depend on what the body holds: the HMAC, one JSON.parse and the envelope's two fields.
 * Its events are walked by the consumer, after the 200: Meta waits some seconds at most, and
 * retries (the same bytes) what it thinks was not acknowledged.
 */
export function whatsappWebhookRoutes(
  deps: Pick<ServiceDeps, "env" | "keyring" | "doorbell" | "inbox">,
) {
  const appSecretKey = importHmacKey(deps.env.META_APP_SECRET, ["sign"]);
  return new Hono<AppEnv>()
    .get("/webhooks/whatsapp", (c) => {
      // Meta calls it once per subscription; a refusal exposes nothing (see AppEnv's unlogged)
      c.set("unlogged", true);
      // the query read once, not scanned for each of its three parameters
      const query = c.req.query();
      const token = query["hub.verify_token"] ?? "";
      if (
        query["hub.mode"] === "subscribe" && constantTimeEqual(token, deps.env.META_VERIFY_TOKEN)
      ) {
        return c.text(query["hub.challenge"] ?? "", 200);
      }
      throw new AppError(403, "verification_failed", "The verify token does not match");
    })
    .post(
      "/webhooks/whatsapp",
      limitBody(deps.env.WEBHOOK_MAX_BODY_BYTES, "Webhook bodies"),
      async (c) => {
        const raw = new Uint8Array(await c.req.arrayBuffer());
        const signature = c.req.header("x-hub-signature-256") ?? null;
        const verdict = await verifyMetaSignature(raw, signature, await appSecretKey);
        if (!verdict.valid) {
          c.get("logger").warn("webhook_signature_rejected", { reason: verdict.reason });
          throw new AppError(
            401,
            "invalid_signature",
            `The X-Hub-Signature-256 header is ${verdict.reason}`,
          );
        }
        const text = new TextDecoder().decode(raw);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new AppError(400, "invalid_json", "The body is not JSON");
        }
        const problem = metaEnvelopeProblem(body);
        if (problem !== null) throw new AppError(400, "invalid_payload", problem);
        // verified, so the header is `sha256=<64 hex>`
        const { duplicate } = await recordMetaWebhook(
          deps,
          { text, body },
          signature!.trim().slice(7),
        );
        // the inbox row is this delivery's record (a duplicate's is its first copy's); refused
        // deliveries, which are recorded nowhere else, stay in the API request log
        c.set("unlogged", true);
        // queued on Workers, recorded after this answer: whether it repeats one is not known yet
        return c.json(duplicate === null ? { received: true } : { received: true, duplicate }, 200);
      },
    );
}
