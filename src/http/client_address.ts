import { type Cidr, formatIp, inCidr, type IpBytes, parseIp } from "../core/net/ip.ts";

/**
 * Who sent a request, for the failed-authentication throttle and the API request log: a header
 * counts only where something we trust wrote it. Anyone can send `CF-Connecting-IP` or
 * `X-Forwarded-For`; believing them where no proxy of ours overwrites them lets a client rotate
 * its apparent address past the throttle, lock another address out by wearing it, and write a
 * false address into the log. Each composition root picks the policy of its runtime.
 */
export type ClientAddress = (headers: Headers, peer: string | undefined) => string | null;

const MAX_FORWARDED_HOPS = 32;

/**
 * Workers: every request reaches the Worker through Cloudflare's edge, which sets
 * `CF-Connecting-IP` to the connecting client and replaces any value the client sent; there is no
 * socket peer to read.
 */
export const cloudflareClientAddress: ClientAddress = (headers) => {
  const value = headers.get("cf-connecting-ip");
  const bytes = value === null ? null : parseIp(value.trim());
  return bytes && formatIp(bytes);
};

/**
 * Deno and self-hosted: the socket peer, unless the peer is one of `trusted` (the reverse proxies
 * or load balancers in front of the app, TRUSTED_PROXIES). Then `X-Forwarded-For` is walked from
 * the right, the end each proxy appends to, past every trusted hop: the first address that is not
 * a trusted proxy is the client, and anything to its left is what the client wrote itself. A hop
 * that is not an address stops the walk at the last trusted one. Without `X-Forwarded-For`, a
 * trusted peer's `CF-Connecting-IP` is used (Cloudflare in front of a self-hosted app).
 */
export function trustedProxyClientAddress(trusted: readonly Cidr[]): ClientAddress {
  const isTrusted = (address: IpBytes) => trusted.some((cidr) => inCidr(address, cidr));
  return function trustedProxyClientAddress(headers, peer) {
    const peerBytes = peer === undefined ? null : parseIp(peer);
    if (!peerBytes) return null;
    if (!trusted.length || !isTrusted(peerBytes)) return formatIp(peerBytes);
    const forwarded = headers.get("x-forwarded-for");
    if (forwarded !== null) {
      let client = peerBytes;
      const hops = forwarded.split(",").slice(-MAX_FORWARDED_HOPS).reverse();
      for (const hop of hops) {
        const bytes = parseIp(hop.trim());
        if (!bytes) break;
        client = bytes;
        if (!isTrusted(bytes)) break;
      }
      return formatIp(client);
    }
    const cloudflare = headers.get("cf-connecting-ip");
    const bytes = cloudflare === null ? null : parseIp(cloudflare.trim());
    return formatIp(bytes ?? peerBytes);
  };
}
