/**
 * Refuses webhook targets that would let a client make us call our own network: loopback,
 * private, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast and
 * reserved ranges, in every spelling of an IP literal that URL parsing normalises, and internal
 * host names. Allowed only outside production (local receivers in dev and tests).
 *
 * Names that resolve to private addresses cannot be caught here (Workers cannot resolve DNS);
 * deliveries therefore also refuse redirects, and Cloudflare's egress does not route to
 * private ranges.
 */
export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_V4: Array<[number, number]> = [
  [0x00000000, 8], // 0.0.0.0/8
  [0x0a000000, 8], // 10/8
  [0x64400000, 10], // 100.64/10 carrier-grade NAT
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // 169.254/16 link-local, cloud metadata
  [0xac100000, 12], // 172.16/12
  [0xc0000000, 24], // 192.0.0/24
  [0xc0a80000, 16], // 192.168/16
  [0xc6120000, 15], // 198.18/15 benchmarking
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved, broadcast
];

function ipv4ToInt(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function blockedV4(n: number): boolean {
  return BLOCKED_V4.some(([base, bits]) => (n >>> (32 - bits)) === (base >>> (32 - bits)));
}

function blockedV6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::" || h === "::1") return true;
  if (/^f[cd][0-9a-f]{2}:/.test(h)) return true; // fc00::/7 unique local
  if (/^fe[89ab][0-9a-f]:/.test(h)) return true; // fe80::/10 link-local
  if (/^ff[0-9a-f]{2}:/.test(h)) return true; // multicast
  // IPv4-mapped (::ffff:a.b.c.d, normalised by URL to ::ffff:xxxx:xxxx) and NAT64 64:ff9b::/96
  const mapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const n = ((parseInt(mapped[1], 16) << 16) | parseInt(mapped[2], 16)) >>> 0;
    return blockedV4(n);
  }
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (dotted) {
    const n = ipv4ToInt(dotted[1]);
    return n === null || blockedV4(n);
  }
  return false;
}

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
  // URL has already turned decimal, octal and hex IPv4 spellings into dotted quads
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (
    host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") ||
    host.endsWith(".internal") || !host.includes(".") && !host.startsWith("[")
  ) {
    return { ok: false, reason: "must name a public host" };
  }
  const v4 = ipv4ToInt(host);
  if (v4 !== null && blockedV4(v4)) return { ok: false, reason: "must not be a private address" };
  if (host.startsWith("[") && blockedV6(host)) {
    return { ok: false, reason: "must not be a private address" };
  }
  return { ok: true, url };
}
