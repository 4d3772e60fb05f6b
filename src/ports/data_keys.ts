/**
 * Per-client data keys (envelope encryption, src/core/crypto/envelope.ts): created on first use,
 * unwrapped with the master keyring and cached. Fields of one client are encrypted with its key
 * only, so deleting the key makes what is left unreadable.
 */
export interface DataKeys {
  forClient(clientId: string): Promise<CryptoKey>;
  /** drops the cached key (after a rotation or a deletion) */
  forget(clientId: string): void;
}
