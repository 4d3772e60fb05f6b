-- The webhook inbox takes deliveries from any provider the app knows: Meta, or a plugin's upstream
-- (a Shopify shop, say), named by the plugin's id, so a plugin's webhooks are recorded before they
-- are acknowledged and processed as durably as Meta's. The provider used to be one of a fixed
-- list; now it is any name shaped like a plugin id (plugin_installations.plugin_id's rule), and
-- the claim answers it, so the consumer hands each delivery to its provider's processor.

alter table public.webhook_inbox drop constraint webhook_inbox_provider_check;
-- not valid, then validated: the check reads every row without holding off writes meanwhile
alter table public.webhook_inbox add constraint webhook_inbox_provider_check
  check (provider ~ '^[a-z][a-z0-9-]{1,62}$') not valid;
alter table public.webhook_inbox validate constraint webhook_inbox_provider_check;

create or replace function public.claim_inbox_items(item_ids bigint[], lease_seconds integer default 60)
returns jsonb
language sql
set search_path = ''
as $$
  with claimed as (
    update public.webhook_inbox set
      attempts = attempts + 1,
      locked_until = now() + make_interval(secs => lease_seconds)
    where id = any(item_ids) and processed_at is null
      and (locked_until is null or locked_until < now())
    returning id, provider, payload_ciphertext, attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', id, 'provider', provider,
    'payload_ciphertext', payload_ciphertext, 'attempts', attempts)), '[]'::jsonb)
  from claimed
$$;
