/**
 * IP addresses as they reach us in text: socket peers, forwarding headers, DNS answers and
 * configuration. Every address is held as 16 bytes, IPv4 as its IPv4-mapped IPv6 form
 * (`::ffff:a.b.c.d`), so one comparison serves both families, a dual-stack socket's
 * `::ffff:192.0.2.1` and a header's `192.0.2.1` are the same address, and an IPv4 range also holds
 * the mapped spelling of its addresses.
 *
 * Parsing is strict: text from a header is hostile, and an address we cannot read exactly is no
 * address. Only dotted-quad IPv4 without leading zeros (`010.0.0.1` is octal to some parsers and
 * decimal to others) and plain IPv6 (no zone, no brackets, no port) are accepted.
 */
export type IpBytes = Uint8Array;

export interface Cidr {
  base: IpBytes;
  /** prefix length in the 128-bit form: an IPv4 /n is /(96 + n) */
  bits: number;
}

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const V6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

function fromV4(parts: number[]): IpBytes {
  const bytes = new Uint8Array(16);
  bytes[10] = bytes[11] = 0xff;
  bytes.set(parts, 12);
  return bytes;
}

/** Whether the 16 bytes are an IPv4 address (its IPv4-mapped form). */
export function isIpv4(bytes: IpBytes): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

/** The address in `text`, or null when it is not exactly one IPv4 or IPv6 address. */
export function parseIp(text: string): IpBytes | null {
  const v4 = V4.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? fromV4(parts) : null;
  }
  if (!V6_CHARS.test(text) || !text.includes(":")) return null;
  // the URL parser implements the whole IPv6 grammar (`::` compression, embedded IPv4) and
  // serialises it to compressed hex; the character check above keeps it to an address
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname;
  } catch {
    return null;
  }
  const [head, tail] = host.slice(1, -1).split("::");
  const groups = (part: string | undefined) => (part ? part.split(":") : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined
    ? left
    : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return bytes;
}

/** Canonical text: dotted quad for IPv4 (mapped or not), compressed lowercase hex for IPv6. */
export function formatIp(bytes: IpBytes): string {
  if (isIpv4(bytes)) return [...bytes.subarray(12)].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** The eight 16-bit groups of an address. */
export function ipGroups(bytes: IpBytes): number[] {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  return groups;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128); null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [address, length, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const base = parseIp(address);
  if (!base) return null;
  const v4 = V4.test(address);
  const max = v4 ? 32 : 128;
  if (length !== undefined && !/^(0|[1-9]\d{0,2})$/.test(length)) return null;
  const n = length === undefined ? max : Number(length);
  if (n > max) return null;
  return { base, bits: v4 ? 96 + n : n };
}

/** Whether `address` lies in `cidr`. */
export function inCidr(address: IpBytes, cidr: Cidr): boolean {
  const whole = cidr.bits >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== cidr.base[i]) return false;
  const rest = cidr.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole] & mask) === (cidr.base[whole] & mask);
}

/**
 * Parses a comma-separated list of addresses and ranges; the entries that are not one are
 * returned apart so configuration can name them.
 */
export function parseCidrList(text: string): { cidrs: Cidr[]; invalid: string[] } {
  const cidrs: Cidr[] = [];
  const invalid: string[] = [];
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    const cidr = parseCidr(entry);
    if (cidr) cidrs.push(cidr);
    else invalid.push(entry);
  }
  return { cidrs, invalid };
}

/**
 * The unit one party controls: an IPv4 address, or an IPv6 /64, the smallest prefix a network is
 * normally given (a host picks any of its 2^64 addresses at will, so counting failures per
 * address would let one machine rotate past any per-address limit).
 */
export function addressBucket(address: string): string {
  const bytes = parseIp(address);
  if (!bytes) return address;
  if (isIpv4(bytes)) return formatIp(bytes);
  const prefix = new Uint8Array(16);
  prefix.set(bytes.subarray(0, 8));
  return `${formatIp(prefix)}/64`;
}
