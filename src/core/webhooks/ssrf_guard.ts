/**
 * Refuses webhook targets that would let a client make us call our own network: loopback,
 * private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast and
 * reserved ranges, in every spelling of an IP literal (URL parsing turns `2130706433`, `0x7f.1`
 * and `0177.0.0.1` into dotted quads, and IPv6 into compressed hex, before we look), IPv6 forms
 * that embed an IPv4 address (mapped, translated, NAT64, 6to4), and internal host names.
 *
 * In production only `https` on port 443 or 8443 is accepted: a webhook receiver is an HTTPS
 * service, and other ports are where admin consoles, databases and mail relays listen, which would
 * otherwise let a client use us to probe them on any public host. Outside production (local
 * receivers in development and tests) private targets, plain http and any port are allowed;
 * credentials in the URL never are (they would be sent to whoever the URL names, and logged).
 *
 * A host name is judged here by its shape only: what it resolves to is the transport's to check
 * (ports/webhook_egress.ts), at registration and at every attempt, since a name can point
 * anywhere (`127.0.0.1.nip.io`, a cluster-internal name) and change between two lookups. On Deno
 * the pinned egress refuses a name when any of its addresses is one isBlockedAddress refuses and
 * connects to the address it checked; on Workers, Cloudflare's egress does not route to private
 * ranges. Redirects are never followed.
 */
import { type IpBytes, ipGroups, parseIp } from "../net/ip.ts";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export const PRODUCTION_PORTS: readonly string[] = ["", "443", "8443"];

const BLOCKED_V4: Array<[base: number, bits: number]> = [
  [0x00000000, 8], // 0/8 "this network"
  [0x0a000000, 8], // 10/8
  [0x64400000, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000, 8], // 127/8 loopback
  [0xa9fe0000, 16], // 169.254/16 link-local, cloud metadata
  [0xac100000, 12], // 172.16/12
  [0xc0000000, 24], // 192.0.0/24 IETF protocol assignments
  [0xc0a80000, 16], // 192.168/16
  [0xc6120000, 15], // 198.18/15 benchmarking
  [0xe0000000, 4], // 224/4 multicast
  [0xf0000000, 4], // 240/4 reserved, broadcast
];

const inPrefix = (n: number, base: number, bits: number) =>
  bits === 0 || (n >>> (32 - bits)) === (base >>> (32 - bits));

/** Whether an IPv4 address (as an unsigned 32-bit number) is in a range we never call. */
export function isBlockedIpv4(n: number): boolean {
  return BLOCKED_V4.some(([base, bits]) => inPrefix(n, base, bits));
}

/** Whether an IPv6 address (eight 16-bit groups) is local, special, or embeds a blocked IPv4. */
export function isBlockedIpv6(g: number[]): boolean {
  const v4 = (hi: number, lo: number) => ((g[hi] << 16) | g[lo]) >>> 0;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 6)) return true; // ::, ::1 and the deprecated IPv4-compatible ::/96
  if (zeros(0, 5) && g[5] === 0xffff) return isBlockedIpv4(v4(6, 7)); // ::ffff:0:0/96 mapped
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return isBlockedIpv4(v4(6, 7)); // translated
  if (g[0] === 0x64 && g[1] === 0xff9b) {
    // 64:ff9b::/96 is NAT64 to the embedded IPv4; 64:ff9b:1::/48 is for local NAT64 only
    return zeros(2, 6) ? isBlockedIpv4(v4(6, 7)) : g[2] === 1;
  }
  if (g[0] === 0x2002) return isBlockedIpv4(v4(1, 2)); // 6to4 relays to the embedded IPv4
  if (g[0] === 0x100 && zeros(1, 4)) return true; // 100::/64 discard
  if (g[0] === 0x2001 && g[1] === 0xdb8) return true; // documentation
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0] & 0xff80) === 0xfe80) return true; // fe80::/10 link-local, fec0::/10 site-local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/** Whether an address (any spelling parseIp reads, e.g. a DNS answer) is one we never call. */
export function isBlockedAddress(address: string): boolean {
  const bytes = parseIp(address);
  return bytes === null || isBlockedIp(bytes);
}

function isBlockedIp(bytes: IpBytes): boolean {
  // IPv4 is held in its mapped form, which isBlockedIpv6 hands to isBlockedIpv4
  return isBlockedIpv6(ipGroups(bytes));
}

/** Why a resolved host may not be called; each completes "The webhook URL …". */
export const RESOLUTION_REFUSALS = {
  blocked: "must not resolve to a private or reserved address",
  noAddress: "must name a host that resolves to an address",
  failed: "could not be resolved; retry later",
} as const;

/** A webhook target the transport refused to connect to, and why (see RESOLUTION_REFUSALS). */
export class RefusedTarget extends Error {
  constructor(readonly reason: string) {
    super(`The URL ${reason}`);
    this.name = "RefusedTarget";
  }
}

const INTERNAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa"];

/** Whether `raw` may receive webhooks; see the module comment for the rules. */
export function checkWebhookUrl(raw: string, options: { allowPrivate: boolean }): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not an absolute URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  if (options.allowPrivate) {
    return url.protocol === "https:" || url.protocol === "http:"
      ? { ok: true, url }
      : { ok: false, reason: "must use http or https" };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "must use https" };
  if (!PRODUCTION_PORTS.includes(url.port)) {
    return { ok: false, reason: "must use port 443 or 8443" };
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const literal = parseIp(host.startsWith("[") ? host.slice(1, -1) : host);
  if (literal) {
    return isBlockedIp(literal)
      ? { ok: false, reason: "must not be a private or reserved address" }
      : { ok: true, url };
  }
  if (
    host === "localhost" || !host.includes(".") ||
    INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix))
  ) {
    return { ok: false, reason: "must name a public host" };
  }
  return { ok: true, url };
}
