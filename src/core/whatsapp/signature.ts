// PROVISIONAL (lead): minimal version so the tree type-checks until the full module lands.
export const META_SIGNATURE_HEADER = "x-hub-signature-256";

async function key(secret: string | CryptoKey): Promise<CryptoKey> {
  return typeof secret === "string"
    ? await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    )
    : secret;
}

export async function verifyMetaSignature(
  rawBody: Uint8Array,
  header: string | null,
  secret: CryptoKey | string,
): Promise<{ valid: true } | { valid: false; reason: "missing" | "malformed" | "mismatch" }> {
  if (!header) return { valid: false, reason: "missing" };
  const m = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!m) return { valid: false, reason: "malformed" };
  const ok = await crypto.subtle.verify(
    "HMAC",
    await key(secret),
    Uint8Array.fromHex(m[1].toLowerCase()),
    rawBody as Uint8Array<ArrayBuffer>,
  );
  return ok ? { valid: true } : { valid: false, reason: "mismatch" };
}

export async function signMetaPayload(raw: Uint8Array, secret: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await key(secret), raw as Uint8Array<ArrayBuffer>);
  return `sha256=${new Uint8Array(mac).toHex()}`;
}
