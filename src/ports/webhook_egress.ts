/**
 * How client webhook deliveries reach the network. A client names the URL, so in production the
 * transport must not carry us into our own network: a name that resolves to a private address is
 * refused, and the connection goes to the address that was checked, never to the answer of a
 * second lookup (DNS rebinding). Where the platform's egress cannot reach private ranges
 * (Workers), plain fetch is that transport; on Deno it is the pinned egress
 * (adapters/deno/pinned_webhook_egress.ts), handed in by the Deno composition root.
 */
export interface WebhookEgress {
  /**
   * Resolves the URL's host and checks every address: null when the URL may be called now, else
   * why not (a RESOLUTION_REFUSALS reason). Registration asks this; an attempt's post checks again.
   */
  vet(url: URL, signal: AbortSignal): Promise<string | null>;
  /**
   * One POST to `url` that never follows a redirect; resolves with the HTTP status. Rejects with
   * RefusedTarget when the host fails the check, with the signal's reason when it aborts.
   */
  post(url: URL, request: EgressRequest): Promise<number>;
}

export interface EgressRequest {
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}
