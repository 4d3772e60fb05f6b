-- message_status_events_client_idx (client_id, wamid) repeats the leading columns of the unique
-- key (client_id, wamid, status, occurred_at), which serves every lookup the smaller index could
-- (by client, or by client and wamid). Each status event paid for an entry in both; status events
-- are most of the webhook traffic.
drop index public.message_status_events_client_idx;
