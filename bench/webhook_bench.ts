/**
 * What our webhook front door costs over the bare platform (deno bench -A bench/webhook_bench.ts).
 *
 * One realistic ~4 KB signed delivery (two WABAs, three phone numbers, inbound messages of several
 * types and statuses), the App Secret imported once. Each group compares, under the same HMAC
 * engine:
 *   a) the floor: verify the MAC + JSON.parse, the least any handler can do;
 *   b) ours: verifyMetaSignature + JSON.parse + parseMetaWebhook + grouping events by
 *      phone_number_id, which is what routing to a tenant needs.
 * Group "web crypto" is Workers (and any runtime without an engine): crypto.subtle.verify against
 * our Web Crypto path. Group "node:crypto" is what src/entry/deno.ts runs (installSyncCrypto):
 * createHmac + timingSafeEqual against our path with the engine installed (and the key imported
 * under it, as engine.ts requires). The goal (docs/benchmarks.md, webhook CPU): b ≤ 200 µs and
 * b ≤ 2 × a.
 */
import * as nodeCrypto from "node:crypto";
import { installSyncCrypto, type SyncCryptoEngine } from "../src/core/crypto/engine.ts";
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
const webKey = await importHmacKey(APP_SECRET);
const secretBytes = new TextEncoder().encode(APP_SECRET);
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

const node = nodeCrypto as unknown as SyncCryptoEngine;
installSyncCrypto(node);
const nodeKey = await importHmacKey(APP_SECRET);
installSyncCrypto(null);

/**
 * Our front door with `engine` installed first (null: none, as on Workers), so each pair runs on
 * one engine; installing is one assignment.
 */
async function ours(
  key: CryptoKey,
  engine: SyncCryptoEngine | null,
): Promise<Map<string, MetaEvent[]>> {
  installSyncCrypto(engine);
  const verdict = await verifyMetaSignature(raw, header, key);
  if (!verdict.valid) throw new Error("unreachable");
  const parsed = parseMetaWebhook(JSON.parse(decoder.decode(raw)));
  if (!parsed.ok) throw new Error("unreachable");
  return groupByPhoneNumber(parsed.events);
}

// sanity checks, so the bench cannot silently measure a rejection path or the wrong engine
{
  const parsed = parseMetaWebhook(JSON.parse(decoder.decode(raw)));
  if (!parsed.ok || parsed.events.length !== 12 || parsed.events.some((e) => e.kind === "field")) {
    throw new Error("The benchmark payload did not parse into 12 events");
  }
  let hmacs = 0;
  const counting: SyncCryptoEngine = {
    ...node,
    createHmac: (...args) => (hmacs++, node.createHmac(...args)),
  };
  const routes = await ours(nodeKey, counting);
  if (hmacs !== 1) throw new Error("The node:crypto pair did not go through node:crypto");
  await ours(webKey, null);
  console.log(
    `payload: ${raw.length} bytes, ${parsed.events.length} events, ${routes.size} routes`,
  );
}

Deno.bench({
  name: "a) crypto.subtle.verify + JSON.parse",
  group: "web crypto",
  baseline: true,
  async fn() {
    const ok = await crypto.subtle.verify("HMAC", webKey, signature, raw);
    if (!ok) throw new Error("unreachable");
    JSON.parse(decoder.decode(raw));
  },
});

Deno.bench({
  name: "b) verifyMetaSignature + parseMetaWebhook + group by phone_number_id (Web Crypto)",
  group: "web crypto",
  async fn() {
    await ours(webKey, null);
  },
});

Deno.bench({
  name: "a) createHmac + timingSafeEqual + JSON.parse",
  group: "node:crypto",
  baseline: true,
  fn() {
    const mac = nodeCrypto.createHmac("sha256", secretBytes).update(raw).digest();
    if (!nodeCrypto.timingSafeEqual(mac, signature)) throw new Error("unreachable");
    JSON.parse(decoder.decode(raw));
  },
});

Deno.bench({
  name: "b) verifyMetaSignature + parseMetaWebhook + group by phone_number_id (node:crypto)",
  group: "node:crypto",
  async fn() {
    await ours(nodeKey, node);
  },
});
