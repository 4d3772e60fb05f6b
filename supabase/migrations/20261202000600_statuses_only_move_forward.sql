-- Statuses only move forward, and failed is terminal (README: Sending messages): until now only
-- the functions that apply Meta's statuses kept that promise, while the re-drive of a
-- dead-lettered message moved it from failed back to queued, so a client told "failed" (by the API
-- and by a message.status webhook) later saw it sent. The promise now holds for every writer:
--
-- 1. A stored status never moves to a lower rank (private.status_rank, the order of
--    src/core/messaging/status.ts; tests/supabase/status_rule_test.ts ties the two). The one move
--    back is a send attempt handing its claim back (sending -> queued) before Meta has the message.
--    The check sits in the trigger's WHEN, so an update that moves forward (the hot path of
--    status webhooks) runs no trigger function.
-- 2. A re-drive is a new message: retry_of names the dead-lettered message it sends again. Only a
--    dead-lettered message of the same client can be named (checked under the caller's RLS, so
--    another client's ids are neither usable nor detectable), and only once: re-driving again
--    finds the same new message. There is no foreign key: a key over (client_id, id) would add
--    an index entry to every message written; the partial index below holds only re-drives.

alter table public.messages add column retry_of uuid;
comment on column public.messages.retry_of is
  'The dead-lettered message this one sends again (POST /v1/messages/{id}/retry); that one stays failed.';

create unique index messages_retry_of_key on public.messages (retry_of) where retry_of is not null;

create function private.refuse_status_regression() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'message % cannot move from % back to %', old.id, old.status, new.status
    using errcode = '23514',
      hint = 'statuses only move forward and failed is terminal; a dead-lettered message is '
        'sent again as a new message (POST /v1/messages/{id}/retry)';
end
$$;

create trigger messages_status_moves_forward
  before update of status on public.messages
  for each row
  when (private.status_rank(new.status) < private.status_rank(old.status)
        and not (old.status = 'sending' and new.status = 'queued'))
  execute function private.refuse_status_regression();

create function private.check_retry_of() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.messages m
    where m.id = new.retry_of and m.client_id = new.client_id and m.direction = 'outbound'
      and m.dead_lettered_at is not null
  ) then
    raise exception 'retry_of must name a dead-lettered message of the same client'
      using errcode = '23503';
  end if;
  return new;
end
$$;

create trigger messages_retry_of_is_dead_letter
  before insert or update of retry_of on public.messages
  for each row
  when (new.retry_of is not null)
  execute function private.check_retry_of();
