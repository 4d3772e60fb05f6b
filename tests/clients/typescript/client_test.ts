import assert from "node:assert/strict";
import {
  createClient,
  type GlooftClient,
  GlooftError,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerificationError,
} from "../../../clients/typescript/src/mod.ts";
import { eventually } from "../../_support/channel.ts";
import { emulatedChannel } from "../../_support/emulated_channel.ts";

/** The client's endpoint: keeps each request's headers and raw bytes, answers 204. */
function receiver() {
  const got: Array<{ headers: Headers; body: Uint8Array<ArrayBuffer> }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
    return new Response(null, { status: 204 });
  });
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hooks/glooft`;
  return {
    url,
    got,
    /** a received request as the endpoint's framework would hand it over: a fresh Request */
    request: (n: number) =>
      new Request(url, { method: "POST", headers: got[n].headers, body: got[n].body }),
    close: () => server.shutdown(),
  };
}

/** the channel's order_update template, with the one body parameter it takes */
const template = (to: string) => ({
  to,
  type: "template" as const,
  template: {
    name: "order_update",
    language: { code: "en_US" },
    components: [{ type: "body" as const, parameters: [{ type: "text", text: "Ana" }] }],
  },
});

Deno.test("through the client only: an idempotent send, its timeline, paging, typed errors, and a client webhook verified with verifyWebhook", async () => {
  const { ch, emulator } = await emulatedChannel();
  const rx = receiver();
  const listCalls: string[] = [];
  const glooft = createClient({
    baseUrl: ch.appUrl,
    apiKey: ch.key,
    fetch: (request) => {
      if (request.method === "GET" && new URL(request.url).pathname === "/v1/messages") {
        listCalls.push(request.url);
      }
      return fetch(request);
    },
  });
  try {
    const me = await glooft.getMe();
    assert.equal(me.client.id, ch.clientId);

    const { endpoint, secret } = await glooft.createWebhookEndpoint({
      body: { url: rx.url, event_types: ["message.status"] },
    });
    assert.deepEqual(endpoint.event_types, ["message.status"]);
    assert.match(secret, /^whsec_/);

    // the same Idempotency-Key twice: one message, sent once
    const body = template("447700900901");
    const first = await glooft.sendMessage({ body, idempotencyKey: "order-1001-shipped" });
    const again = await glooft.sendMessage({ body, idempotencyKey: "order-1001-shipped" });
    assert.ok("message" in first && "message" in again);
    const id = first.message.id;
    assert.equal(again.message.id, id);
    const reused = await glooft.sendMessage({
      body: template("447700900902"),
      idempotencyKey: "order-1001-shipped",
    }).catch((e) => e);
    assert.ok(reused instanceof GlooftError, String(reused));
    assert.equal(reused.status, 409);
    assert.equal(reused.code, "idempotency_key_reused");
    assert.match(reused.requestId ?? "", /.+/);

    // the timeline, read until Meta's status webhooks have delivered it
    const read = await eventually(async () => {
      const m = await glooft.getMessage({ path: { id } });
      return m.message.status === "delivered" ? m : null;
    }, "the message to be delivered");
    assert.deepEqual(read.timeline.map((t) => t.status), ["sent", "delivered"]);
    assert.equal(emulator.messages().filter((m) => m.to === "447700900901").length, 1);

    // paging: the async iterator follows next_cursor until the last page
    const ids = [id];
    for (const to of ["447700900903", "447700900904", "447700900905", "447700900906"]) {
      const sent = await glooft.sendMessage({ body: template(to) });
      assert.ok("message" in sent);
      ids.push(sent.message.id);
    }
    listCalls.length = 0;
    const paged: string[] = [];
    for await (
      const m of glooft.paginate("listMessages", { query: { direction: "outbound", limit: 2 } })
    ) {
      paged.push(m.id);
    }
    assert.deepEqual(paged, [...ids].reverse(), "every message once, newest first");
    assert.equal(listCalls.length, 3, "5 messages in pages of 2");
    assert.ok(listCalls.slice(1).every((u) => new URL(u).searchParams.has("cursor")));

    const missing = await glooft.getMessage({ path: { id: crypto.randomUUID() } }).catch((e) => e);
    assert.ok(missing instanceof GlooftError);
    assert.deepEqual([missing.status, missing.code], [404, "not_found"]);

    // the client webhook of the delivery, verified and typed
    const delivered = await eventually(async () => {
      for (let n = 0; n < rx.got.length; n++) {
        const event = await verifyWebhook(rx.request(n), { secret });
        if (
          event.type === "message.status" && event.data.message_id === id &&
          event.data.status === "delivered"
        ) return { n, event };
      }
      return null;
    }, "the message.status webhook of the delivery");
    const { headers, body: raw } = rx.got[delivered.n];
    const same: WebhookEvent = await verifyWebhook({ body: raw, headers }, { secret });
    assert.deepEqual(same, delivered.event);
    assert.match(headers.get("webhook-id") ?? "", /^evt_/);

    const tampered = raw.slice();
    tampered[tampered.length - 2] ^= 1;
    const refused = await verifyWebhook({ body: tampered, headers }, { secret }).catch((e) => e);
    assert.ok(refused instanceof WebhookVerificationError);
    assert.equal(refused.reason, "invalid_signature");
    const { secret: rotated } = await glooft.rotateWebhookEndpointSecret({
      path: { id: endpoint.id },
    });
    await assert.rejects(verifyWebhook({ body: raw, headers }, { secret: rotated }), {
      reason: "invalid_signature",
    });
  } finally {
    await ch.close();
    await rx.close();
  }
});

/**
 * Compile-time checks of the typed surface (`deno check` runs them; nothing here is called): a
 * required path parameter, a body that must match the document, and options only where the
 * operation takes them.
 */
async function _typedSurface(glooft: GlooftClient) {
  // @ts-expect-error the message id is required
  await glooft.getMessage();
  // @ts-expect-error listing takes no Idempotency-Key
  await glooft.listMessages({ idempotencyKey: "x" });
  // @ts-expect-error a template needs its name
  await glooft.sendMessage({ body: { to: "1", type: "template", template: { language: {} } } });
  // @ts-expect-error contacts page by offset, not by cursor
  glooft.paginate("listContacts");
  const health: { status: "ok" } = await glooft.getHealth();
  const file: Response = await glooft.getMedia({ path: { id: "123" } });
  return [health, file];
}
