import type { WebhookEgress } from "../../ports/webhook_egress.ts";

/**
 * Client webhooks over plain fetch: for Workers, whose egress does not route to private ranges,
 * and outside production, where local receivers are the point. It resolves nothing itself.
 */
export function fetchWebhookEgress(doFetch: typeof fetch = fetch): WebhookEgress {
  return {
    vet: () => Promise.resolve(null),
    async post(url, request) {
      const res = await doFetch(url, {
        method: "POST",
        // a redirect could bounce into a private address: it is a failure, never followed
        redirect: "manual",
        signal: request.signal,
        headers: request.headers,
        body: request.body,
      });
      await res.body?.cancel();
      return res.status;
    },
  };
}
