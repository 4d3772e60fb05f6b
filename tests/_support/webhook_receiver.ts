import { Webhook } from "standardwebhooks";
import type { Json } from "./app.ts";

/**
 * A local client webhook endpoint that answers 200 and keeps what it gets; `events(secret)`
 * checks each signature with the reference Standard Webhooks library and gives the events.
 */
export function webhookReceiver() {
  const got: Array<{ headers: Headers; body: string }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    got.push({ headers: req.headers, body: await req.text() });
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/hook`,
    events(secret: string): Array<{ type: string; data: Json }> {
      return got.map((r) =>
        new Webhook(secret).verify(r.body, {
          "webhook-id": r.headers.get("webhook-id")!,
          "webhook-timestamp": r.headers.get("webhook-timestamp")!,
          "webhook-signature": r.headers.get("webhook-signature")!,
        }) as { type: string; data: Json }
      );
    },
    close: () => server.shutdown(),
  };
}
