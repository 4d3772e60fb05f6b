import { decryptFieldIfReadable } from "../core/crypto/envelope.ts";
import { notFound } from "../core/errors.ts";
import type { ClientEventData } from "../core/webhooks/client_events.ts";
import type { ConsentChange, ConsentStatus, ContactRecord, ContactRef } from "../ports/contacts.ts";
import type { ServiceDeps } from "./deps.ts";

/** Meta's customer service window: free-form messages only within 24 h of the contact's last */
const WINDOW_MS = 24 * 3600 * 1000;

/** A contact as the API shows it: its name decrypted, its consent and its service window. */
export interface ContactView {
  id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name: string | null;
  consent: { status: ConsentStatus; source: string | null; updated_at: string | null };
  last_inbound_at: string | null;
  customer_service_window: { open: boolean; expires_at: string | null };
  created_at: string;
}

type Deps = Pick<ServiceDeps, "contacts" | "dataKeys" | "now">;

export async function contactView(
  deps: Pick<ServiceDeps, "dataKeys" | "now">,
  clientId: string,
  row: ContactRecord,
): Promise<ContactView> {
  const last = row.last_inbound_at ? Date.parse(row.last_inbound_at) : null;
  const expires = last === null ? null : last + WINDOW_MS;
  return {
    id: row.id,
    wa_id: row.wa_id,
    user_id: row.user_id,
    profile_name: row.profile_name_ciphertext === null ? null : await decryptFieldIfReadable(
      await deps.dataKeys.forClient(clientId),
      row.profile_name_ciphertext,
      `contact_name:${clientId}`,
    ),
    consent: {
      status: row.consent_status,
      source: row.consent_source,
      updated_at: row.consent_updated_at,
    },
    last_inbound_at: row.last_inbound_at,
    customer_service_window: {
      open: expires !== null && expires > deps.now(),
      expires_at: expires === null ? null : new Date(expires).toISOString(),
    },
    created_at: row.created_at,
  };
}

export async function listContacts(
  deps: Deps,
  clientId: string,
  filter: { consent?: ConsentStatus; limit: number; offset: number },
): Promise<ContactView[]> {
  const rows = await deps.contacts.list(clientId, filter);
  return await Promise.all(rows.map((r) => contactView(deps, clientId, r)));
}

/** The contact, or a 404 */
export async function getContact(
  deps: Deps,
  clientId: string,
  ref: ContactRef,
): Promise<ContactView> {
  const row = await deps.contacts.find(clientId, ref);
  if (!row) throw notFound("Contact");
  return await contactView(deps, clientId, row);
}

/**
 * Records a consent decision: the contact (created when a number or user id names nobody yet), its
 * consent, the consent history and the audit record, in one transaction; then, when the status
 * changed, tells the client's webhooks and plugins (`contact.consent_changed`). A 404 when an id
 * names no contact of the client.
 */
export async function recordConsent(
  deps: Pick<ServiceDeps, "contacts" | "events" | "doorbell" | "now">,
  clientId: string,
  ref: ContactRef,
  change: ConsentChange,
): Promise<{ record: ContactRecord; previous: ConsentStatus }> {
  const recorded = await deps.contacts.recordConsent(clientId, ref, change);
  if (!recorded) throw notFound("Contact");
  const { contact, previous } = recorded;
  if (previous !== contact.consent_status) {
    const jobs = await deps.events.publish([{
      clientId,
      type: "contact.consent_changed",
      data: {
        contact_id: contact.id,
        wa_id: contact.wa_id,
        user_id: contact.user_id,
        status: change.status,
        previous_status: previous,
        source: change.source,
        actor: change.actor,
        occurred_at: contact.consent_updated_at ?? new Date(deps.now()).toISOString(),
      } satisfies ClientEventData<"contact.consent_changed">,
    }]);
    if (jobs.length) await deps.doorbell.ring(jobs);
  }
  return { record: contact, previous };
}
