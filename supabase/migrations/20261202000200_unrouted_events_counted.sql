-- A delivery for a phone number nobody owns was recorded as one unrouted_webhook_events row per
-- event, so a signed delivery of 25,000 statuses for an unknown number wrote 25,000 rows. One row
-- now stands for the events of one delivery that share their number, WABA and kind, and says how
-- many there were.
alter table public.unrouted_webhook_events
  add column events integer not null default 1 check (events > 0);
