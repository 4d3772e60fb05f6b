/**
 * Certificates for TLS tests, made in code with Web Crypto (no openssl, no key files in the
 * repository): a throwaway certificate authority and a server certificate it signs for the given
 * DNS names, ECDSA P-256 with SHA-256, valid from an hour ago for a day. X.509 is written out as
 * the DER the RFC 5280 structures need and nothing more.
 */

const concat = (parts: Uint8Array[]): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concat([new Uint8Array([tag, ...length]), body]);
}

const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const text = (s: string) => new TextEncoder().encode(s);

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const base128 = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0] & 0x80 ? concat([new Uint8Array([0]), trimmed]) : trimmed);
}

function utcTime(date: Date): Uint8Array {
  const two = (n: number) => String(n).padStart(2, "0");
  return tlv(
    0x17,
    text(
      `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}` +
        `${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`,
    ),
  );
}

const commonName = (cn: string) => seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, text(cn)))));
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [tlv(0x01, new Uint8Array([0xff]))] : []), tlv(0x04, value));
}

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${
    der.toBase64().match(/.{1,64}/g)!.join("\n")
  }\n-----END ${label}-----\n`;

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;

async function certificate(options: {
  subject: string;
  issuer: string;
  publicKey: CryptoKey;
  signingKey: CryptoKey;
  ca: boolean;
  dnsNames?: string[];
}): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", options.publicKey));
  const now = Date.now();
  const extensions = options.ca
    ? [
      extension("2.5.29.19", true, seq(tlv(0x01, new Uint8Array([0xff])))), // CA:TRUE
      extension("2.5.29.15", true, tlv(0x03, new Uint8Array([1, 0x06]))), // keyCertSign, cRLSign
    ]
    : [
      extension("2.5.29.19", true, seq()),
      extension("2.5.29.15", true, tlv(0x03, new Uint8Array([7, 0x80]))), // digitalSignature
      extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
      extension(
        "2.5.29.17",
        false,
        seq(...(options.dnsNames ?? []).map((name) => tlv(0x82, text(name)))),
      ),
    ];
  const tbs = seq(
    tlv(0xa0, integer(new Uint8Array([2]))), // v3
    integer(crypto.getRandomValues(new Uint8Array(16))),
    ECDSA_SHA256,
    commonName(options.issuer),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86_400_000))),
    commonName(options.subject),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  // Web Crypto signs ECDSA as r || s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, options.signingKey, tbs),
  );
  const signature = seq(integer(raw.subarray(0, 32)), integer(raw.subarray(32)));
  return pem(
    "CERTIFICATE",
    seq(tbs, ECDSA_SHA256, tlv(0x03, concat([new Uint8Array([0]), signature]))),
  );
}

/** A CA certificate (trust it as `caCerts`) and a server certificate and key for `dnsNames`. */
export async function testCertificates(dnsNames: string[]) {
  const ca = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const server = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const caName = `glooft test CA ${crypto.randomUUID().slice(0, 8)}`;
  return {
    ca: await certificate({
      subject: caName,
      issuer: caName,
      publicKey: ca.publicKey,
      signingKey: ca.privateKey,
      ca: true,
    }),
    cert: await certificate({
      subject: dnsNames[0],
      issuer: caName,
      publicKey: server.publicKey,
      signingKey: ca.privateKey,
      ca: false,
      dnsNames,
    }),
    key: pem(
      "PRIVATE KEY",
      new Uint8Array(await crypto.subtle.exportKey("pkcs8", server.privateKey)),
    ),
  };
}
