import type { PrivacySubject } from "../core/privacy/subject.ts";

/** The subject of a request as one client's part sees it, handed to each plugin's hook. */
export interface PrivacyHookSubject extends PrivacySubject {
  /** the client whose data this is: a hook touches this client's data only */
  clientId: string;
  /** the privacy request being carried out (for the hook's own records) */
  requestId: string;
}

/**
 * What a plugin that keeps personal data implements so that data-subject requests reach it:
 * `export` returns everything it keeps about the subject (JSON-ready, or null for nothing), and
 * `erase` deletes or irreversibly anonymises it, returning how many records it removed. Both may
 * be called again for the same request (a retried part), so both are idempotent. The plugin layer
 * (`definePlugin({ privacy: { export, erase } })`) adapts each plugin to this; the privacy service
 * only sees this interface.
 */
export interface PrivacyHook {
  /** the plugin's id, the key of its section in an export */
  id: string;
  export(subject: PrivacyHookSubject): Promise<unknown | null>;
  erase(subject: PrivacyHookSubject): Promise<{ erased: number }>;
}
