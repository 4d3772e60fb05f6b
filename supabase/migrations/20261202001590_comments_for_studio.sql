-- Comments on every table, column, view and function of the schemas we own (public, private,
-- privacy), written for the person reading them in Supabase Studio: privacy staff browsing the
-- privacy schema, operators looking at a table. Studio shows a table's and a column's comment next
-- to it, and postgres-meta (Studio's backend) serves them; tests/supabase/comments_test.ts fails
-- when an object has none, so a new table or function must come with its comments.

comment on view privacy.active_legal_holds is
  'Legal holds in force now.';
comment on column privacy.active_legal_holds.client_id is 'The held client.';
comment on column privacy.active_legal_holds.contact_id is 'The held contact.';
comment on column privacy.active_legal_holds.expires_at is 'Until when, if set.';
comment on column privacy.active_legal_holds.id is 'The hold''s id (privacy.lift_legal_hold takes it).';
comment on column privacy.active_legal_holds.kind is 'client or contact.';
comment on column privacy.active_legal_holds.subject_ref is 'The held subject''s number or user id, when the hold names them so.';
comment on column privacy.active_legal_holds.placed_at is 'When.';
comment on column privacy.active_legal_holds.placed_by is 'Who placed it.';
comment on column privacy.active_legal_holds.reason is 'Why.';

comment on table privacy.client_offboardings is
  'A record of each client offboarding: its data key was shredded first, then its rows removed in batches; what was removed, by table.';
comment on column privacy.client_offboardings.client_id is 'The client that left (the client row is gone once finished).';
comment on column privacy.client_offboardings.finished_at is 'When the last row, and the client, were gone.';
comment on column privacy.client_offboardings.id is 'The record''s id.';
comment on column privacy.client_offboardings.key_shredded_at is 'When the client''s data key was deleted: from then on nothing it stored could be decrypted.';
comment on column privacy.client_offboardings.removed is 'Rows removed, by table.';
comment on column privacy.client_offboardings.requested_by is 'Who asked for the offboarding.';
comment on column privacy.client_offboardings.started_at is 'When it started.';


comment on view privacy.open_requests is
  'Privacy requests not yet completed, rejected or expired, with their deadline and parts. Start here.';
comment on column privacy.open_requests.approved_at is 'When.';
comment on column privacy.open_requests.approved_by is 'The staff member who approved it.';
comment on column privacy.open_requests.attested_by is 'Who at the client attested the subject''s identity.';
comment on column privacy.open_requests.channel is 'web, api, shopify or meta.';
comment on column privacy.open_requests.clients is 'How many clients'' data it concerns (its parts).';
comment on column privacy.open_requests.deadline is 'The date it must be answered by (extended, if it was).';
comment on column privacy.open_requests.extended is 'Whether the deadline was extended.';
comment on column privacy.open_requests.failed_parts is 'Parts that failed 5 times (re-run them).';
comment on column privacy.open_requests.filing_client_id is 'The client that filed it, if a client did.';
comment on column privacy.open_requests.held_parts is 'Parts stopped by a legal hold.';
comment on column privacy.open_requests.id is 'The request''s id: pass it to the staff functions.';
comment on column privacy.open_requests.overdue is 'True when the deadline has passed.';
comment on column privacy.open_requests.received_at is 'When it arrived.';
comment on column privacy.open_requests.reference_prefix is 'First four characters of the subject''s confirmation code.';
comment on column privacy.open_requests.status is 'Where it stands in the workflow.';
comment on column privacy.open_requests.subject_kind is 'Who it is about (whatsapp, meta_user, shopify_customer, shopify_shop).';
comment on column privacy.open_requests.type is 'access, correction, deletion or consent_withdrawal.';
comment on column privacy.open_requests.verification_method is 'How the subject was verified.';
comment on column privacy.open_requests.verified_at is 'When.';

comment on view privacy.overdue_requests is
  'Open privacy requests past their deadline: act on these first.';
comment on column privacy.overdue_requests.approved_at is 'When.';
comment on column privacy.overdue_requests.approved_by is 'The staff member who approved it.';
comment on column privacy.overdue_requests.attested_by is 'Who at the client attested the subject''s identity.';
comment on column privacy.overdue_requests.channel is 'web, api, shopify or meta.';
comment on column privacy.overdue_requests.clients is 'How many clients'' data it concerns (its parts).';
comment on column privacy.overdue_requests.deadline is 'The date it must be answered by (extended, if it was).';
comment on column privacy.overdue_requests.extended is 'Whether the deadline was extended.';
comment on column privacy.overdue_requests.failed_parts is 'Parts that failed 5 times (re-run them).';
comment on column privacy.overdue_requests.filing_client_id is 'The client that filed it, if a client did.';
comment on column privacy.overdue_requests.held_parts is 'Parts stopped by a legal hold.';
comment on column privacy.overdue_requests.id is 'The request''s id: pass it to the staff functions.';
comment on column privacy.overdue_requests.overdue is 'True when the deadline has passed.';
comment on column privacy.overdue_requests.received_at is 'When it arrived.';
comment on column privacy.overdue_requests.reference_prefix is 'First four characters of the subject''s confirmation code.';
comment on column privacy.overdue_requests.status is 'Where it stands in the workflow.';
comment on column privacy.overdue_requests.subject_kind is 'Who it is about (whatsapp, meta_user, shopify_customer, shopify_shop).';
comment on column privacy.overdue_requests.type is 'access, correction, deletion or consent_withdrawal.';
comment on column privacy.overdue_requests.verification_method is 'How the subject was verified.';
comment on column privacy.overdue_requests.verified_at is 'When.';

comment on view privacy.recent_erasures is
  'Deletions carried out in the last 90 days, per client, with what was erased.';
comment on column privacy.recent_erasures.channel is 'Where it came from.';
comment on column privacy.recent_erasures.client_id is 'The client whose data was erased.';
comment on column privacy.recent_erasures.done_at is 'When.';
comment on column privacy.recent_erasures.reference_prefix is 'First four characters of its confirmation code.';
comment on column privacy.recent_erasures.request_id is 'The deletion request.';
comment on column privacy.recent_erasures.result is 'Rows erased, by kind of data.';

comment on view privacy.staff_actions is
  'The audit trail of privacy work and client lifecycle: every staff action with who did it and the database login it ran under, and retention''s record of each change to legal holds, retention policies and classes.';
comment on column privacy.staff_actions.action is 'What (privacy.request.approved, privacy.legal_hold.placed, client.offboarded, ...).';
comment on column privacy.staff_actions.actor is 'Who (staff:<name>, subject, system, ...).';
comment on column privacy.staff_actions.client_id is 'The client concerned.';
comment on column privacy.staff_actions.created_at is 'When.';
comment on column privacy.staff_actions.details is 'Reasons, notes and the database role.';
comment on column privacy.staff_actions.target_id is 'Its id.';
comment on column privacy.staff_actions.target_type is 'What was acted on.';

comment on table private.master_key_reports is
  'Which master keys each running app instance holds (fingerprints, never keys), so a key rotation can refuse a key some instance lacks.';
comment on column private.master_key_reports.active is 'The version it wraps new data keys under.';
comment on column private.master_key_reports.expires_at is 'Until when the report stands (three sweep periods).';
comment on column private.master_key_reports.instance is 'The reporting app instance.';
comment on column private.master_key_reports.keys is 'version:fingerprint of each master key it holds.';
comment on column private.master_key_reports.reported_at is 'When it last reported.';

comment on table public.api_keys is
  'API keys of each client. Only a keyed hash of a key is stored; the key itself was shown once, when created.';
comment on column public.api_keys.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.api_keys.created_at is 'When the row was created.';
comment on column public.api_keys.created_by is 'Who created it (api_key:<id>, user:<id> or operator:<name>).';
comment on column public.api_keys.environment is 'live or test.';
comment on column public.api_keys.expires_at is 'When the key stops working, if set.';
comment on column public.api_keys.id is 'The key''s id.';
comment on column public.api_keys.key_hash is 'HMAC of the key under a pepper kept outside the database: it cannot be turned back into the key.';
comment on column public.api_keys.last_used_at is 'When it was last used (updated at most once a minute).';
comment on column public.api_keys.name is 'A name the client gave the key.';
comment on column public.api_keys.prefix is 'The key''s first characters, so people can tell keys apart.';
comment on column public.api_keys.revoked_at is 'When it was revoked; a revoked key is refused.';
comment on column public.api_keys.scopes is 'What the key may do (messages:send, privacy:write, ...).';

comment on table public.api_request_log is
  'Technical metadata of API and page requests: route pattern, status, latency, client address and user agent. Never bodies or credentials. The address and user agent are personal data: kept briefly, and a data subject''s own visits to /privacy go with their erasure.';
comment on column public.api_request_log.client_id is 'The client that made the request, when authenticated.';
comment on column public.api_request_log.created_at is 'When the request was answered.';
comment on column public.api_request_log.id is 'Order of the records.';
comment on column public.api_request_log.ip is 'The caller''s address, as the runtime''s trusted-proxy rules found it.';
comment on column public.api_request_log.latency_ms is 'How long the answer took.';
comment on column public.api_request_log.method is 'HTTP method.';
comment on column public.api_request_log.request_id is 'The request''s X-Request-Id.';
comment on column public.api_request_log.route is 'The route pattern (never the raw path, which may hold ids or codes).';
comment on column public.api_request_log.status is 'HTTP status answered.';
comment on column public.api_request_log.user_agent is 'The caller''s User-Agent header.';

comment on table public.audit_log is
  'Append-only record of privileged actions: keys created and revoked, clients created and offboarded, and every privacy staff action (privacy.* actions name the staff member). No API role may change or delete a row.';
comment on column public.audit_log.action is 'What was done, for example privacy.request.approved or client.offboarded.';
comment on column public.audit_log.actor is 'Who did it: api_key:<id>, user:<id>, operator:<name>, staff:<name>, subject, meta, shopify or system.';
comment on column public.audit_log.client_id is 'The client the action concerns (null for the platform, or once the client is gone).';
comment on column public.audit_log.created_at is 'When it happened.';
comment on column public.audit_log.details is 'Particulars of the action (never message content or a data subject''s identifiers); db_role is the database login that ran it.';
comment on column public.audit_log.id is 'Order of the records.';
comment on column public.audit_log.request_id is 'The API request that did it, when there was one.';
comment on column public.audit_log.target_id is 'Its id.';
comment on column public.audit_log.target_type is 'The kind of thing acted on (privacy_request, legal_hold, client, ...).';

comment on table public.client_data_keys is
  'Each client''s data key, wrapped (encrypted) by a master key that lives only in the app''s configuration, never in the database. Without the master key this row is useless; deleting it makes all of the client''s encrypted fields unreadable for good (crypto-shredding).';
comment on column public.client_data_keys.client_id is 'The client whose fields this key encrypts.';
comment on column public.client_data_keys.created_at is 'When the row was created.';
comment on column public.client_data_keys.master_key_version is 'Which master key version wrapped it (MASTER_KEYS in the app''s configuration).';
comment on column public.client_data_keys.rewrapped_at is 'When a master key rotation last re-wrapped it (the data key itself never changes).';
comment on column public.client_data_keys.wrapped_key is 'The data key encrypted with AES-256-GCM under the master key named by master_key_version. Not a secret on its own.';

comment on table public.clients is
  'The businesses this gateway serves. Everything a client owns hangs on its id; deleting (offboarding) a client shreds its data key and removes its rows in batches.';
comment on column public.clients.created_at is 'When the row was created.';
comment on column public.clients.id is 'The client''s id: every tenant row names it in client_id.';
comment on column public.clients.name is 'The business''s name, as operators entered it.';
comment on column public.clients.status is 'active: served; suspended: its credentials are refused; offboarding: its data key is shredded and its rows are being removed.';
comment on column public.clients.updated_at is 'When the row last changed (set by a trigger).';

comment on table public.consent_events is
  'Every change of a contact''s consent, with where it came from and who recorded it: the consent history. A privacy erasure removes it with the contact.';
comment on column public.consent_events.actor is 'Who recorded it (api_key:<id>, privacy_request:<id>, ...).';
comment on column public.consent_events.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.consent_events.contact_id is 'The contact whose consent changed.';
comment on column public.consent_events.created_at is 'When it was recorded.';
comment on column public.consent_events.id is 'Order of the events.';
comment on column public.consent_events.source is 'Where the choice was made (checkout_checkbox, reply_stop, privacy_request, ...).';
comment on column public.consent_events.status is 'opted_in or opted_out.';

comment on table public.contacts is
  'The people each client exchanges WhatsApp messages with: their number or business-scoped user id, their consent and the 24-hour customer-service window. The profile name is encrypted.';
comment on column public.contacts.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.contacts.consent_source is 'Where the last consent choice was made (reply_stop, privacy_request, ...).';
comment on column public.contacts.consent_status is 'unknown, opted_in or opted_out. An opted-out contact is never messaged.';
comment on column public.contacts.consent_updated_at is 'When consent last changed.';
comment on column public.contacts.created_at is 'When the row was created.';
comment on column public.contacts.id is 'Our id of the contact.';
comment on column public.contacts.last_inbound_at is 'When the person last wrote; free-form messages are allowed for 24 hours after it.';
comment on column public.contacts.last_outbound_at is 'When the client last messaged the person.';
comment on column public.contacts.profile_name_ciphertext is 'The person''s WhatsApp profile name, encrypted with the client''s data key. Unreadable without the master keys.';
comment on column public.contacts.updated_at is 'When the row last changed (set by a trigger).';
comment on column public.contacts.user_id is 'Meta''s business-scoped user id, for people who hide their number. Personal data.';
comment on column public.contacts.wa_id is 'The person''s WhatsApp number (digits, no +), when known. Personal data.';

comment on table public.message_status_events is
  'Every status Meta reported for an outbound message (sent, delivered, read, failed), as received: the message''s timeline.';
comment on column public.message_status_events.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.message_status_events.conversation_id is 'Meta''s conversation id.';
comment on column public.message_status_events.errors is 'Meta''s errors of a failed status.';
comment on column public.message_status_events.id is 'Order of the events.';
comment on column public.message_status_events.message_id is 'Our message, when the status could be matched to one.';
comment on column public.message_status_events.occurred_at is 'When Meta says it happened.';
comment on column public.message_status_events.pricing is 'Meta''s pricing information.';
comment on column public.message_status_events.received_at is 'When the webhook arrived.';
comment on column public.message_status_events.status is 'The status Meta reported.';
comment on column public.message_status_events.wamid is 'Meta''s id of the message.';

comment on table public.messages is
  'WhatsApp messages in both directions. The content is encrypted with the client''s data key; what is in clear is how the message travelled (status, times, Meta''s ids).';
comment on column public.messages.attempts is 'Send attempts so far.';
comment on column public.messages.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.messages.contact_id is 'The person it was exchanged with.';
comment on column public.messages.content_ciphertext is 'What the message said (its Meta-shaped JSON), encrypted with the client''s data key. Unreadable without the master keys.';
comment on column public.messages.context_wamid is 'The message it replies to.';
comment on column public.messages.created_at is 'When the message was received or queued.';
comment on column public.messages.dead_lettered_at is 'When its retries ran out (it can be re-driven through the API).';
comment on column public.messages.delivered_at is 'When it was delivered.';
comment on column public.messages.direction is 'inbound (from the person) or outbound (from the client).';
comment on column public.messages.error is 'Meta''s error for a failed message.';
comment on column public.messages.failed_at is 'When it failed.';
comment on column public.messages.id is 'Our id of the message.';
comment on column public.messages.idempotency_key is 'The client''s Idempotency-Key: the same key never sends twice.';
comment on column public.messages.locked_until is 'Lease of the sender working on it.';
comment on column public.messages.media is 'Meta''s media ids and types of an inbound media message (no file content).';
comment on column public.messages.next_attempt_at is 'When the next send attempt is due.';
comment on column public.messages.phone_number_id is 'The client''s number it was sent from or received on.';
comment on column public.messages.pricing_category is 'Meta''s pricing category of the message.';
comment on column public.messages.read_at is 'When it was read.';
comment on column public.messages.recipient is 'Who it goes to or came from: the number''s digits or the business-scoped user id. Personal data.';
comment on column public.messages.request_hash is 'Hash of the send request, to refuse a reused Idempotency-Key with another body.';
comment on column public.messages.retry_of is 'The dead-lettered message this one sends again (POST /v1/messages/{id}/retry); that one stays failed.';
comment on column public.messages.sent_at is 'When Meta sent it.';
comment on column public.messages.status is 'received (inbound); queued, sending, accepted, sent, delivered, read or failed (outbound). Only moves forward.';
comment on column public.messages.status_updated_at is 'When the status last changed.';
comment on column public.messages.type is 'text, template, image, ...';
comment on column public.messages.wamid is 'Meta''s id of the message.';

comment on table public.phone_numbers is
  'The WhatsApp phone numbers each client sends from and receives on. Meta''s webhooks are routed to a client by phone_number_id.';
comment on column public.phone_numbers.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.phone_numbers.created_at is 'When the row was created.';
comment on column public.phone_numbers.display_phone_number is 'The business''s number as Meta displays it.';
comment on column public.phone_numbers.id is 'Our id of the number.';
comment on column public.phone_numbers.messages_per_second is 'How many messages per second the number may send (Meta''s throughput; 80 by default).';
comment on column public.phone_numbers.phone_number_id is 'Meta''s id of the number (not the number itself); webhooks are routed by it.';
comment on column public.phone_numbers.updated_at is 'When the row last changed (set by a trigger).';
comment on column public.phone_numbers.verified_name is 'The business name Meta verified for the number.';
comment on column public.phone_numbers.waba_account_id is 'The WhatsApp Business Account the number belongs to.';

comment on table public.plugin_installations is
  'Which plugins each client turned on, with their configuration; plugin secrets are encrypted.';
comment on column public.plugin_installations.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.plugin_installations.config is 'The plugin''s validated configuration.';
comment on column public.plugin_installations.created_at is 'When the row was created.';
comment on column public.plugin_installations.enabled is 'Whether it runs.';
comment on column public.plugin_installations.id is 'The installation''s id.';
comment on column public.plugin_installations.plugin_id is 'The plugin (shopify, opt-out, ...).';
comment on column public.plugin_installations.routing_key is 'How a webhook from outside finds this installation (a Shopify shop domain, say).';
comment on column public.plugin_installations.secrets_ciphertext is 'The plugin''s secrets, encrypted with the client''s data key. Unreadable without the master keys.';
comment on column public.plugin_installations.updated_at is 'When the row last changed (set by a trigger).';

comment on table public.privacy_exports is
  'The answers to access requests: everything kept about the subject at one client, as JSON encrypted with that client''s data key, handed out once through a signed, expiring link.';
comment on column public.privacy_exports.bytes is 'Its size.';
comment on column public.privacy_exports.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.privacy_exports.content_ciphertext is 'The export, encrypted with the client''s data key; dropped when downloaded or expired. Unreadable without the master keys.';
comment on column public.privacy_exports.created_at is 'When the row was created.';
comment on column public.privacy_exports.downloaded_at is 'When it was downloaded (once).';
comment on column public.privacy_exports.expires_at is 'When the link stops working.';
comment on column public.privacy_exports.id is 'The export''s id.';
comment on column public.privacy_exports.part_id is 'The request''s part at this client.';
comment on column public.privacy_exports.request_id is 'The access request.';

comment on table public.privacy_request_parts is
  'One part of a privacy request per client whose data it concerns. Each part is carried out with that client''s JWT, so row-level security keeps it to that client''s rows.';
comment on column public.privacy_request_parts.attempts is 'Attempts so far.';
comment on column public.privacy_request_parts.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.privacy_request_parts.contact_ids is 'The client''s contacts that are the subject, found when carried out; emptied when the request is finished.';
comment on column public.privacy_request_parts.created_at is 'When the row was created.';
comment on column public.privacy_request_parts.done_at is 'When it was done.';
comment on column public.privacy_request_parts.error is 'The last error, for staff (never names the subject).';
comment on column public.privacy_request_parts.id is 'The part''s id.';
comment on column public.privacy_request_parts.locked_until is 'Lease of the worker carrying it out.';
comment on column public.privacy_request_parts.next_attempt_at is 'When the next attempt is due.';
comment on column public.privacy_request_parts.request_id is 'The request it belongs to.';
comment on column public.privacy_request_parts.result is 'What was done, in counts (rows erased per table, messages exported, contacts opted out, ...).';
comment on column public.privacy_request_parts.status is 'pending (awaiting a decision), queued (to be carried out), held (a legal hold stops it), done, or failed (after 5 errors; staff re-run it).';

comment on table public.privacy_requests is
  'Data-subject requests (access, correction, deletion, consent withdrawal) from every channel: the public /privacy page, a client through the API, Shopify''s compliance webhooks and Meta''s data deletion callback. Who the subject is is never stored in clear. Once finished, only the minimal proof stays: what was asked, when, how it was verified, who decided and a keyed hash of the subject. Work them through the privacy schema''s views and functions.';
comment on column public.privacy_requests.approved_at is 'When.';
comment on column public.privacy_requests.approved_by is 'The staff member who approved it.';
comment on column public.privacy_requests.attested_at is 'When they checked it.';
comment on column public.privacy_requests.attested_by is 'For a client attestation: who at the client checked the subject''s identity.';
comment on column public.privacy_requests.channel is 'web (the public page), api (a client), shopify (compliance webhook) or meta (data deletion callback).';
comment on column public.privacy_requests.completed_at is 'When every client''s part was done.';
comment on column public.privacy_requests.details_ciphertext is 'What a correction asks for, encrypted the same way; erased when finished.';
comment on column public.privacy_requests.due_at is 'The deadline: one month after receipt (30 days for Shopify).';
comment on column public.privacy_requests.extended_by is 'The staff member who extended it.';
comment on column public.privacy_requests.extended_due_at is 'The extended deadline, at most two months later (privacy.extend_deadline).';
comment on column public.privacy_requests.extension_reason is 'Why it was extended (shown to the subject).';
comment on column public.privacy_requests.external_id is 'The provider''s id (Shopify webhook id, Meta''s time and a hash of the person) or the client''s own: retries file nothing new.';
comment on column public.privacy_requests.filed_by is 'Who filed it: subject, meta, shopify, or the client''s api_key:<id> / user:<id>.';
comment on column public.privacy_requests.filing_client_id is 'The client that filed it (API, Shopify); null when the subject (web) or Meta did.';
comment on column public.privacy_requests.fulfilment_requested_at is 'When.';
comment on column public.privacy_requests.fulfilment_requested_by is 'Who started the fulfilment (a staff member, or subject for a consent withdrawal).';
comment on column public.privacy_requests.id is 'The request''s id: the staff functions take it.';
comment on column public.privacy_requests.received_at is 'When it arrived: the deadline runs from here.';
comment on column public.privacy_requests.reference_hash is 'Keyed hash of the confirmation code the subject follows the request with. The code itself is not stored (it opens the request''s export).';
comment on column public.privacy_requests.reference_prefix is 'The confirmation code''s first four characters, to match a subject''s message to their request.';
comment on column public.privacy_requests.rejected_at is 'When.';
comment on column public.privacy_requests.rejected_by is 'The staff member who rejected it.';
comment on column public.privacy_requests.rejection_reason is 'Why (shown to the subject on the status page).';
comment on column public.privacy_requests.status is 'unverified, verified (awaiting a decision), approved, in_progress, completed, rejected or expired (never verified within 7 days).';
comment on column public.privacy_requests.subject_ciphertext is 'Who the subject is, encrypted with a system key derived from the master keys; erased when the request is finished. Unreadable without the master keys.';
comment on column public.privacy_requests.subject_hash is 'Keyed hash (HMAC under a key outside the database) of who the subject is: matches requests about the same person without naming them.';
comment on column public.privacy_requests.subject_kind is 'Who it is about: whatsapp (a number or user id), meta_user, shopify_customer or shopify_shop.';
comment on column public.privacy_requests.subject_request_ids is 'X-Request-Id of the subject''s own visits to /privacy, whose log rows an erasure removes; emptied when finished.';
comment on column public.privacy_requests.type is 'access (a copy), correction (of the name), deletion, or consent_withdrawal.';
comment on column public.privacy_requests.updated_at is 'When the row last changed (set by a trigger).';
comment on column public.privacy_requests.verification_method is 'How the subject''s identity was checked: whatsapp_code, client_attestation, meta_signature or shopify_signature.';
comment on column public.privacy_requests.verified_at is 'When the identity check succeeded. Nothing is carried out before it.';

comment on table public.privacy_verification_codes is
  'The one-time codes sent to a subject''s WhatsApp number, stored only as keyed hashes, with their expiry and attempts. Deleted once the request is verified.';
comment on column public.privacy_verification_codes.attempts is 'Tries spent (each is spent before the comparison).';
comment on column public.privacy_verification_codes.code_hash is 'Keyed hash of the code (under a key outside the database) bound to the request.';
comment on column public.privacy_verification_codes.expires_at is 'When the code stops working (10 minutes after it was sent).';
comment on column public.privacy_verification_codes.last_sent_at is 'When the last code was sent.';
comment on column public.privacy_verification_codes.max_attempts is 'Tries allowed (5); then the request cannot be verified any more.';
comment on column public.privacy_verification_codes.request_id is 'The request the code verifies.';
comment on column public.privacy_verification_codes.sends is 'Codes sent for the request (at most 3).';

comment on table public.unrouted_webhook_events is
  'Meta webhook events for numbers no client owns, counted per delivery, number and kind, for operators.';
comment on column public.unrouted_webhook_events.events is 'How many events of this kind the delivery held.';
comment on column public.unrouted_webhook_events.id is 'Order of the records.';
comment on column public.unrouted_webhook_events.inbox_id is 'The delivery it came in.';
comment on column public.unrouted_webhook_events.kind is 'What kind of event it was.';
comment on column public.unrouted_webhook_events.phone_number_id is 'Meta''s phone number id nobody owns.';
comment on column public.unrouted_webhook_events.received_at is 'When it arrived.';
comment on column public.unrouted_webhook_events.waba_id is 'Meta''s WhatsApp Business Account id.';

comment on table public.webhook_deliveries is
  'Each event posted (or to be posted) to a client''s endpoint, with its attempts. The body is encrypted while it waits and dropped once delivered.';
comment on column public.webhook_deliveries.attempts is 'Attempts so far.';
comment on column public.webhook_deliveries.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.webhook_deliveries.created_at is 'When the row was created.';
comment on column public.webhook_deliveries.delivered_at is 'When the endpoint accepted it.';
comment on column public.webhook_deliveries.endpoint_id is 'The endpoint it goes to.';
comment on column public.webhook_deliveries.event_id is 'The event''s id (webhook-id header): the same on every retry.';
comment on column public.webhook_deliveries.event_type is 'message.received, message.status, ...';
comment on column public.webhook_deliveries.id is 'The delivery''s id.';
comment on column public.webhook_deliveries.last_error is 'The last attempt''s error.';
comment on column public.webhook_deliveries.last_status_code is 'The endpoint''s last HTTP status.';
comment on column public.webhook_deliveries.locked_until is 'Lease of the worker attempting it.';
comment on column public.webhook_deliveries.next_attempt_at is 'When the next attempt is due.';
comment on column public.webhook_deliveries.payload_ciphertext is 'The event''s body, encrypted with the client''s data key while it waits; null once delivered. Unreadable without the master keys.';
comment on column public.webhook_deliveries.status is 'pending, succeeded, failed or cancelled.';

comment on table public.webhook_endpoints is
  'Where each client wants its events posted (client webhooks), with the signing secret encrypted.';
comment on column public.webhook_endpoints.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.webhook_endpoints.consecutive_failures is 'Failures in a row.';
comment on column public.webhook_endpoints.created_at is 'When the row was created.';
comment on column public.webhook_endpoints.description is 'A note the client wrote.';
comment on column public.webhook_endpoints.disabled_at is 'When it was disabled.';
comment on column public.webhook_endpoints.disabled_reason is 'Why it was disabled.';
comment on column public.webhook_endpoints.enabled is 'Whether events are sent to it.';
comment on column public.webhook_endpoints.event_types is 'Which event types it receives (empty: all).';
comment on column public.webhook_endpoints.failing_since is 'Since when every attempt has failed.';
comment on column public.webhook_endpoints.id is 'The endpoint''s id.';
comment on column public.webhook_endpoints.secret_ciphertext is 'The signing secret, encrypted with the client''s data key. Unreadable without the master keys.';
comment on column public.webhook_endpoints.updated_at is 'When the row last changed (set by a trigger).';
comment on column public.webhook_endpoints.url is 'The client''s HTTPS address events are posted to.';

comment on table public.webhook_inbox is
  'Every verified Meta webhook delivery, recorded before we answer 200 so that nothing acknowledged is lost. The payload is encrypted and dropped as soon as its events are stored; a delivery set aside after repeated failures keeps it 30 days for operators.';
comment on column public.webhook_inbox.attempts is 'Processing attempts.';
comment on column public.webhook_inbox.dedupe_key is 'The verified signature of the exact bytes: Meta''s retries repeat it.';
comment on column public.webhook_inbox.id is 'Order of the deliveries.';
comment on column public.webhook_inbox.last_error is 'Why it was set aside, for operators.';
comment on column public.webhook_inbox.locked_until is 'Lease of the worker processing it.';
comment on column public.webhook_inbox.next_attempt_at is 'When the next attempt is due.';
comment on column public.webhook_inbox.payload_ciphertext is 'The delivery''s body, encrypted with a system key derived from the master keys. Null once processed. Unreadable without the master keys.';
comment on column public.webhook_inbox.processed_at is 'When its events were stored (or it was set aside).';
comment on column public.webhook_inbox.provider is 'Who sent it (meta).';
comment on column public.webhook_inbox.received_at is 'When it arrived.';
comment on column public.webhook_inbox.route_key is 'The first change''s phone number id: deliveries take turns by it.';

comment on table public.whatsapp_account_events is
  'Meta webhook fields other than messages (template status, quality and account updates) and the items that fitted no schema, as received.';
comment on column public.whatsapp_account_events.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.whatsapp_account_events.field is 'The webhook field (message_template_status_update, messages.invalid, ...).';
comment on column public.whatsapp_account_events.id is 'Order of the events.';
comment on column public.whatsapp_account_events.phone_number_id is 'Meta''s phone number id, when the event names one.';
comment on column public.whatsapp_account_events.received_at is 'When it arrived.';
comment on column public.whatsapp_account_events.value is 'The event as Meta sent it. An erasure removes events that name the subject''s number.';
comment on column public.whatsapp_account_events.waba_id is 'Meta''s WhatsApp Business Account id.';

comment on table public.whatsapp_business_accounts is
  'The WhatsApp Business Accounts (WABAs) of each client, with the access token the gateway sends with, encrypted.';
comment on column public.whatsapp_business_accounts.access_token_ciphertext is 'The system-user access token, encrypted with the client''s data key. Unreadable without the master keys.';
comment on column public.whatsapp_business_accounts.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.whatsapp_business_accounts.created_at is 'When the row was created.';
comment on column public.whatsapp_business_accounts.id is 'Our id of the account.';
comment on column public.whatsapp_business_accounts.name is 'A name for people.';
comment on column public.whatsapp_business_accounts.token_expires_at is 'When the access token expires, if it does.';
comment on column public.whatsapp_business_accounts.updated_at is 'When the row last changed (set by a trigger).';
comment on column public.whatsapp_business_accounts.waba_id is 'Meta''s id of the WhatsApp Business Account.';

comment on function privacy.act_as(staff_member text) is
  'Say who you are before any other privacy function, in the same SQL snippet: select privacy.act_as(''you@example.com''). Studio''s SQL editor runs everyone as postgres, so this name is what the audit log records (with the database login). Staff who sign in with a login role of their own are that role.';
comment on function privacy.apply_correction(request_id uuid, note text) is
  'Approves a correction request and carries it out: the subject''s profile name, as they gave it (encrypted; you do not see it), replaces the stored one at each client. Audited.';
comment on function privacy.approve_request(request_id uuid, note text) is
  'Approves a verified request (after checking it is legitimate); then run it with privacy.run_fulfilment. Audited with your name and the note.';
comment on function privacy.extend_deadline(request_id uuid, reason text, extension interval) is
  'Extends a request''s deadline once, by at most two months (default), within the first month, with the reason the subject is shown. Audited.';
comment on function privacy.lift_legal_hold(hold_id uuid, reason text) is
  'Lifts a legal hold; erasures it stopped go ahead at the next sweep. Audited.';
comment on function privacy.place_legal_hold(client_id uuid, reason text, contact_id uuid, expires_at timestamp with time zone) is
  'Places a legal hold on a client''s data, or with contact_id on one subject''s: erasures and retention purges keep it until the hold is lifted (or expires_at). Audited.';
comment on function privacy.reject_request(request_id uuid, reason text) is
  'Rejects a request, with the reason the subject will read on the status page (for example: manifestly unfounded or excessive). The subject''s encrypted identity is erased at once. Audited.';
comment on function privacy.run_fulfilment(request_id uuid) is
  'Carries out an approved request: each client''s part is queued and the app carries it out within a sweep (under 30 s by default), as that client. Run it again to retry parts that failed or were held. Audited.';
comment on function private.check_retry_of() is
  'Trigger: retry_of must name a dead-lettered outbound message of the same client.';
comment on function private.complete_privacy_request(p_request_id uuid) is
  'Completes a request once every part is done, keeping only its minimal proof (the encrypted subject, details and request ids are erased; a deletion also erases the subject''s own request-log rows).';
comment on function private.contacts_of(cid uuid, people jsonb) is
  'The client''s contact for each identity (number and/or user id), creating the missing ones and merging identities.';
comment on function private.current_client_id() is
  'The client the caller acts for: the client_id claim of the JWT (app_metadata.client_id for Supabase Auth users). Every tenant policy uses it.';
comment on function private.enqueue_batch(cid uuid, requests jsonb, lease integer, gap interval) is
  'Queues a batch of a client''s send requests, applying consent and the 24-hour window before creating anything.';
comment on function private.find_contact(cid uuid, wa text, uid text) is
  'The client''s contact with this number or user id, if any.';
comment on function private.privacy_audit(p_client_id uuid, p_actor text, p_action text, p_request_id uuid, p_details jsonb) is
  'Appends a privacy action to the audit log, with the database login; never the subject''s identifiers.';
comment on function private.privacy_request_for_staff(p_request_id uuid) is
  'The request a staff function acts on, locked; an unknown id is an error.';
comment on function private.privacy_request_moves() is
  'Trigger: a privacy request''s status only moves along the workflow (unverified → verified → approved → in_progress → completed, or rejected/expired), and nothing happens before verification.';
comment on function private.privacy_staff_member() is
  'The staff member acting: a personal login role, or the name given to privacy.act_as in a shared session (Studio''s postgres).';
comment on function private.refuse_key_for_leaving_client() is
  'Trigger: no new data key for a client being offboarded (it would outlive the shredding).';
comment on function private.refuse_status_regression() is
  'Trigger: a message''s status never moves backwards.';
comment on function private.resolve_contact(cid uuid, wa text, uid text) is
  'Finds or creates the client''s contact for a number and/or user id, merging one known by either.';
comment on function private.send_refusal(c contacts, free_form boolean, window_hours integer) is
  'Why a send to this contact is refused (opted out, outside the 24-hour window), or null.';
comment on function private.start_privacy_fulfilment(p_request_id uuid, p_actor text) is
  'Queues every part of a request not yet done; a request without parts completes at once.';
comment on function private.status_rank(status text) is
  'A message status''s rank: statuses only move to a higher rank (mirrors src/core/messaging/status.ts).';
comment on function private.touch_updated_at() is
  'Trigger: sets updated_at on every update.';
comment on function private.webhook_endpoints_within_limit() is
  'Trigger: a client has at most 10 webhook endpoints.';
comment on function public.add_privacy_subject_request(request_id uuid, http_request_id text) is
  'Remembers one of the subject''s own visits to /privacy, so an erasure removes its request-log row. Service role.';
comment on function public.apply_privacy_part(part_id uuid, delivery_ids uuid[], profile_name_ciphertext text, plugin_delivery_ids uuid[]) is
  'Carries out the database side of a privacy request''s part as its client (RLS''s client): erases the subject''s data for a deletion (unless a legal hold stops it), opts them out and stops queued messages for a withdrawal, writes the corrected name for a correction. Only for a part leased for this attempt.';
comment on function public.apply_status_events(events jsonb) is
  'Records a batch of the calling client''s status events and advances each message''s status (any arrival order converges).';
comment on function public.claim_inbox_items(item_ids bigint[], lease_seconds integer) is
  'Leases webhook inbox deliveries for processing. Service role.';
comment on function public.claim_outbound_message(message_id uuid, lease_seconds integer, recipient_gap_ms integer, ambiguous_wait_ms integer) is
  'Leases one queued message for sending, keeping the gap between two sends to one recipient and waiting ambiguous_wait_ms after an attempt whose outcome is unknown.';
comment on function public.claim_outbound_messages(message_ids uuid[], lease_seconds integer, recipient_gap_ms integer, ambiguous_wait_ms integer) is
  'Leases queued messages for sending, in one round trip.';
comment on function public.claim_privacy_part(part_id uuid, lease_seconds integer) is
  'Leases a queued part of a privacy request for one attempt, with the request''s type and encrypted subject. Service role.';
comment on function public.claim_webhook_deliveries(delivery_ids uuid[], lease_seconds integer) is
  'Leases client webhook deliveries for an attempt.';
comment on function public.due_inbox_items(max_rows integer) is
  'Inbox deliveries due for processing, in turns per route key. Service role.';
comment on function public.due_outbound_messages(max_rows integer) is
  'Messages due for a send attempt, in turns per client. Service role.';
comment on function public.due_privacy_parts(max_rows integer) is
  'Privacy request parts due to be carried out, in turns per client. Service role.';
comment on function public.due_webhook_deliveries(max_rows integer) is
  'Client webhook deliveries due for an attempt, in turns per client. Service role.';
comment on function public.enqueue_message(p jsonb) is
  'Queues one send request of the calling client (see enqueue_messages).';
comment on function public.enqueue_messages(requests jsonb, claim jsonb) is
  'Queues a batch of the calling client''s send requests, idempotent on Idempotency-Key; optionally leases them for sending.';
comment on function public.expire_privacy_work(max_rows integer) is
  'Privacy housekeeping at every sweep: exports past their time lose their content; requests unverified for 7 days expire. Service role.';
comment on function public.file_privacy_request(r jsonb) is
  'Files a privacy request from any channel. The database decides its status and deadline; a client may file only its own API or Shopify requests.';
comment on function public.finish_privacy_part(part_id uuid, outcome text, result jsonb, error text, retry_in_seconds integer) is
  'Records a part''s attempt: done (with counts), held (by a legal hold) or retry; the last part done completes the request. Service role.';
comment on function public.finish_webhook_attempt(delivery_id uuid, succeeded boolean, attempt_status_code integer, attempt_error text, retry_in_ms bigint, gone boolean, disable_after_ms bigint, disable_after_failures integer, failures_over_ms bigint) is
  'Records one client webhook attempt and schedules the next or disables the endpoint.';
comment on function public.finish_webhook_attempts(attempts jsonb) is
  'Records a batch of client webhook attempts in order.';
comment on function public.ingest_whatsapp_batch(batch jsonb) is
  'Stores one client''s share of Meta webhook deliveries (messages, contacts, statuses, account events) in one round trip.';
comment on function public.leaving_clients(max_rows integer) is
  'Clients still being offboarded (the sweeper carries on with them). Service role.';
comment on function public.offboard_client_step(client_id uuid, max_rows integer) is
  'Removes at most max_rows rows of a client being offboarded, children first; when none is left the client goes and its record is finished. Service role.';
comment on function public.privacy_part_held(part_id uuid) is
  'True when a legal hold covers a part''s client or any of its contacts. Service role.';
comment on function public.record_send_result(message_id uuid, result jsonb) is
  'Records the outcome of one send attempt.';
comment on function public.record_send_results(results jsonb) is
  'Records the outcomes of send attempts in one round trip.';
comment on function public.record_webhook_deliveries(deliveries jsonb) is
  'Records client webhook deliveries of published events.';
comment on function public.recover_webhook_deliveries(endpoint uuid, since timestamp with time zone, max_rows integer) is
  'Sends again an endpoint''s deliveries that failed or were cancelled since a time.';
comment on function public.report_master_keys(instance uuid, keys text[], active text, ttl_seconds integer) is
  'An app instance reports the fingerprints of the master keys it holds. Service role.';
comment on function public.resolve_privacy_part_contacts(part_id uuid, wa_id text, user_id text) is
  'Finds the part''s client''s contacts that are the subject and keeps them on the part. Service role.';
comment on function public.standing_master_key_reports() is
  'The master key reports that stand now. Service role.';
comment on function public.start_client_offboarding(client_id uuid, requested_by text) is
  'Starts offboarding a client: refused under a legal hold; marks it offboarding, revokes its API keys and deletes its data key (crypto-shredding), with a record. Service role.';
comment on function public.store_privacy_code(request_id uuid, code_hash text, ttl_seconds integer, max_attempts integer) is
  'Stores a fresh one-time code (its keyed hash) for an unverified request: at most 3 per request, 60 s apart. Service role.';
comment on function public.take_privacy_code_attempt(request_id uuid) is
  'Spends one attempt of a request''s code before the app compares it; says why when none is left. Service role.';
comment on function public.take_privacy_export(export_id uuid) is
  'Hands out an export once: marks it downloaded and drops its content. Service role.';
comment on function public.verify_privacy_request(request_id uuid, wa_id text, user_id text, privacy_sender uuid) is
  'Marks a request verified (its code matched) and, for a web request, makes one part per client that knows the subject; a consent withdrawal starts at once. Service role.';
comment on function public.withdraw_master_key_report(instance uuid) is
  'An app instance that stops cleanly withdraws its master key report. Service role.';

-- the plugin layer (20261202001300_record_consent.sql to 20261202001320_plugin_layer.sql) and the
-- privacy functions added with it

comment on table public.plugin_state is
  'Small JSON values a plugin keeps per client (at most 64 KiB each), under the client''s row-level security. A privacy erasure removes the rows that name the subject.';
comment on column public.plugin_state.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.plugin_state.plugin_id is 'The plugin that keeps it.';
comment on column public.plugin_state.key is 'The plugin''s name for the value.';
comment on column public.plugin_state.value is 'The value, as the plugin wrote it (in clear: plugins keep no secrets here).';
comment on column public.plugin_state.updated_at is 'When the value last changed (set by a trigger).';

comment on table public.plugin_deliveries is
  'Core events (and scheduled runs) on their way to a plugin''s handler, recorded before the handler runs: leased, retried with backoff, parked with the error after the last attempt. Retention class plugin_deliveries.';
comment on column public.plugin_deliveries.attempts is 'Calls of the handler so far.';
comment on column public.plugin_deliveries.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.plugin_deliveries.created_at is 'When the event was recorded.';
comment on column public.plugin_deliveries.event_type is 'The core event (message.received, ...) or schedule for a scheduled run.';
comment on column public.plugin_deliveries.finished_at is 'When it was handled, cancelled or parked.';
comment on column public.plugin_deliveries.id is 'The delivery''s id.';
comment on column public.plugin_deliveries.last_error is 'Why the last call failed (the plugin''s words).';
comment on column public.plugin_deliveries.locked_until is 'Until when a call holds it.';
comment on column public.plugin_deliveries.next_attempt_at is 'When it is due (again).';
comment on column public.plugin_deliveries.payload_ciphertext is 'The event, encrypted with the client''s data key; dropped once handled or cancelled. Unreadable without the app''s master keys.';
comment on column public.plugin_deliveries.plugin_id is 'The plugin it is for.';
comment on column public.plugin_deliveries.status is 'pending, succeeded, cancelled or parked (failed its last attempt; kept for a retry on request).';

comment on table private.plugin_schedule is
  'When each installation''s scheduled run is next due (the sweeper''s; service role only).';
comment on column private.plugin_schedule.client_id is 'The installation''s client.';
comment on column private.plugin_schedule.plugin_id is 'The installation''s plugin.';
comment on column private.plugin_schedule.next_run_at is 'When its next run is due.';

comment on function public.claim_plugin_deliveries(delivery_ids uuid[], lease_seconds integer) is
  'Leases the caller''s due plugin deliveries for one handler call each, counting the attempt; null for one not due, finished or held by another call.';
comment on function public.delete_plugin_installation(client uuid, plugin text, audit jsonb) is
  'Removes a client''s installation of a plugin with its state, cancels its pending and parked deliveries, and audits it. Service role.';
comment on function public.due_plugin_deliveries(max_rows integer) is
  'Plugin deliveries due now, in turns per client. Service role.';
comment on function public.event_subscribers() is
  'Who hears the caller''s events: its enabled webhook endpoints and its plugin installations.';
comment on function public.finish_plugin_deliveries(results jsonb) is
  'Records the outcome of handler calls: succeeded, cancelled, retry (with its wait) or parked; a handled delivery drops its payload.';
comment on function public.ingest_whatsapp_events(batch jsonb) is
  'The Meta ingest (ingest_whatsapp_batch) with the plugin deliveries of new inbound messages, in one transaction.';
comment on function public.record_consent(contact jsonb, consent jsonb) is
  'Records a consent decision in one transaction: the contact''s status (creating the contact when a number names a new one), a consent event and an audit record, under the caller''s row-level security.';
comment on function public.record_plugin_ticks(schedules jsonb, max_rows integer) is
  'Records a schedule delivery for each enabled installation of a scheduled plugin whose run is due, and sets its next run. Service role.';
comment on function public.retry_parked_plugin_deliveries(plugin text, max_rows integer) is
  'Hands one plugin''s parked deliveries of the caller back to pending, due now, with their attempts afresh.';
comment on function public.save_plugin_installation(installation jsonb, audit jsonb) is
  'Writes a client''s installation of a plugin (after the API checked it) with its audit record. Service role: clients cannot write installations directly.';

comment on function public.plugin_state_naming(needles text[]) is
  'The caller''s plugin state whose key or value names one of the needles (the subject''s number, user id, contact ids), at most 1000 rows: what an access request exports of plugins'' own storage.';
comment on function private.mentions(haystack text, needles text[]) is
  'Whether the text holds one of the needles as a whole token (not inside a longer number or id): how an erasure finds the rows that name a subject.';
comment on function private.remove_ended_legal_holds(p_client_id uuid) is
  'Deletes the lifted or expired legal holds of a client being offboarded, just before the client row goes. Service role.';

-- the template store (20261202001400_message_templates.sql)

comment on table public.message_templates is
  'Each client''s WhatsApp message templates per business account, a copy of what Meta holds (kept current by syncs and Meta''s template webhooks): a template send is checked against it before it is queued.';
comment on column public.message_templates.category is 'Meta''s category (MARKETING, UTILITY, AUTHENTICATION, ...), as Meta says it.';
comment on column public.message_templates.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.message_templates.components is 'Meta''s component definitions (header, body, footer, buttons); null while the template is known only from a webhook, until the sync it asks for.';
comment on column public.message_templates.created_at is 'When the row was created.';
comment on column public.message_templates.id is 'Our id of the template (one per name and language).';
comment on column public.message_templates.language is 'The template''s language (en_US, pt_BR, ...).';
comment on column public.message_templates.meta_template_id is 'Meta''s id of this template in this language.';
comment on column public.message_templates.name is 'The template''s name, as sends name it.';
comment on column public.message_templates.parameter_format is 'POSITIONAL ({{1}}, {{2}}) or NAMED ({{name}}) variables.';
comment on column public.message_templates.quality_score is 'Meta''s quality rating (GREEN, YELLOW, RED, UNKNOWN).';
comment on column public.message_templates.rejected_reason is 'Why Meta rejected it, when it did.';
comment on column public.message_templates.status is 'Meta''s review status (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...): only an approved template is sent.';
comment on column public.message_templates.updated_at is 'When the row last changed (set by a trigger; a sync that finds nothing new leaves it).';
comment on column public.message_templates.waba_account_id is 'The WhatsApp Business account that holds it.';

comment on table public.message_template_syncs is
  'One row per business account whose templates were synced or asked to be: when, whether a sync holds it now, and the last error.';
comment on column public.message_template_syncs.client_id is 'The client (business) this row belongs to; row-level security keeps each client to its own rows.';
comment on column public.message_template_syncs.last_attempt_at is 'When a sync last started (syncs of one account are at least TEMPLATE_SYNC_MIN_INTERVAL_SECONDS apart).';
comment on column public.message_template_syncs.last_error is 'Why the last sync failed, when it did.';
comment on column public.message_template_syncs.last_synced_at is 'When the last complete sync ended.';
comment on column public.message_template_syncs.locked_until is 'Until when a running sync holds the account.';
comment on column public.message_template_syncs.requested_at is 'When a webhook named a template the store lacked (the account is due a sync).';
comment on column public.message_template_syncs.templates is 'How many templates the last complete sync found.';
comment on column public.message_template_syncs.waba_account_id is 'The business account.';

comment on function public.apply_template_events(events jsonb) is
  'Applies Meta''s template webhooks (status, quality, category) for the caller, in order; a template the store lacks asks for a sync of its account.';
comment on function public.claim_template_sync(waba_account uuid, min_interval_seconds integer, lease_seconds integer) is
  'Takes the caller''s account for one template sync: a lease, granted when no other sync holds it and none started in the last min_interval_seconds.';
comment on function public.due_template_syncs(max_rows integer, interval_seconds integer, retry_seconds integer) is
  'Accounts whose templates are due a sync (never synced, asked for by a webhook, or last synced too long ago), in turns per client. Service role.';
comment on function public.finish_template_sync(waba_account uuid, seen text[], started_at timestamp with time zone, sync_error text, templates_found integer) is
  'Ends the caller''s sync of an account: after a complete listing, deletes the templates Meta no longer lists; after a failure keeps the error. Lets the lease go.';
comment on function public.template_for_send(phone text, template_name text, template_language text, idempotency_key text) is
  'What a template send is checked against, in one round trip: the sending number''s account, the template of that name and language, its other languages, when the account was last synced, and whether the Idempotency-Key names a message already.';
comment on function public.upsert_message_templates(waba_account uuid, templates jsonb) is
  'Writes one page of an account''s templates as Meta lists them: new ones inserted, changed ones updated, the rest left alone; answers the status and quality changes.';
