/**
 * What our webhook front door costs over the bare platform (deno bench bench/webhook_bench.ts).
 *
 * One realistic ~4 KB signed delivery (two WABAs, three phone numbers, inbound messages of several
 * types and statuses), the App Secret imported once in both cases:
 *   a) baseline: crypto.subtle.verify + JSON.parse, the least any handler can do;
 *   b) ours: verifyMetaSignature + JSON.parse + parseMetaWebhook + grouping events by
 *      phone_number_id, which is what routing to a tenant needs.
 */
import { importHmacKey } from "../src/core/crypto/hmac.ts";
import { type MetaEvent, parseMetaWebhook } from "../src/core/whatsapp/parse_webhook.ts";
import { META_SIGNATURE_HEADER, verifyMetaSignature } from "../src/core/whatsapp/signature.ts";
import {
  buildEnvelope,
  buildError,
  buildInbound,
  buildMessagesChange,
  buildStatus,
  combineEnvelopes,
  CUSTOMER_BSUID,
  INTERACTIVE_SAMPLES,
  signedRequestInit,
} from "../tests/_support/meta_payloads.ts";

const APP_SECRET = "3f1c9e0b7d5a4c2e8b6a0d9c1e3f5a7b";

const body = combineEnvelopes(
  buildEnvelope([
    buildMessagesChange({
      phoneNumberId: "106540352242922",
      inbound: [
        buildInbound({ type: "text", payload: { body: "Olá! O meu pedido já foi enviado?" } }),
        buildInbound({ type: "image" }),
        buildInbound({ type: "interactive", payload: INTERACTIVE_SAMPLES.list_reply }),
        buildInbound({ type: "text", waId: null, userId: CUSTOMER_BSUID, fromUserId: true }),
      ],
    }),
    buildMessagesChange({
      phoneNumberId: "106540352242933",
      statuses: [
        buildStatus({ status: "sent", callback: crypto.randomUUID(), conversationId: "c0ffee" }),
        buildStatus({ status: "delivered", callback: crypto.randomUUID() }),
        buildStatus({ status: "read", callback: crypto.randomUUID() }),
        buildStatus({ status: "failed", errors: [buildError(131049, "Healthy ecosystem")] }),
      ],
    }),
  ], { wabaId: "102290129340398" }),
  buildEnvelope([
    buildMessagesChange({
      phoneNumberId: "107777777777701",
      inbound: [
        buildInbound({ type: "button", context: { from: "15550783881", id: "wamid.TPL" } }),
        buildInbound({ type: "document" }),
      ],
      statuses: [buildStatus({ status: "delivered" }), buildStatus({ status: "read" })],
    }),
  ], { wabaId: "102290129340555" }),
);

const init = await signedRequestInit(body, APP_SECRET);
const raw = new TextEncoder().encode(init.body);
const header = init.headers[META_SIGNATURE_HEADER];
const key = await importHmacKey(APP_SECRET);
const signature = Uint8Array.from(
  header.slice("sha256=".length).match(/../g)!,
  (h) => Number.parseInt(h, 16),
);
const decoder = new TextDecoder();

function groupByPhoneNumber(events: MetaEvent[]): Map<string, MetaEvent[]> {
  const routes = new Map<string, MetaEvent[]>();
  for (const event of events) {
    const route = event.phoneNumberId ?? `waba:${event.wabaId}`;
    const list = routes.get(route);
    if (list) list.push(event);
    else routes.set(route, [event]);
  }
  return routes;
}

// sanity checks, so the bench cannot silently measure a rejection path
{
  const verdict = await verifyMetaSignature(raw, header, key);
  const parsed = parseMetaWebhook(JSON.parse(decoder.decode(raw)));
  if (!verdict.valid || !parsed.ok || parsed.events.length !== 12) {
    throw new Error("The benchmark payload did not verify and parse into 12 events");
  }
  console.log(
    `payload: ${raw.length} bytes, ${parsed.events.length} events, ` +
      `${groupByPhoneNumber(parsed.events).size} routes`,
  );
}

Deno.bench({
  name: "a) crypto.subtle.verify + JSON.parse",
  group: "webhook",
  baseline: true,
  async fn() {
    const ok = await crypto.subtle.verify("HMAC", key, signature, raw);
    if (!ok) throw new Error("unreachable");
    JSON.parse(decoder.decode(raw));
  },
});

Deno.bench({
  name: "b) verifyMetaSignature + parseMetaWebhook + group by phone_number_id",
  group: "webhook",
  async fn() {
    const verdict = await verifyMetaSignature(raw, header, key);
    if (!verdict.valid) throw new Error("unreachable");
    const parsed = parseMetaWebhook(JSON.parse(decoder.decode(raw)));
    if (!parsed.ok) throw new Error("unreachable");
    groupByPhoneNumber(parsed.events);
  },
});
