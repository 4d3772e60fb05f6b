-- Every client event is one delivery per endpoint, and nothing bounded the endpoints a client may
-- register (through the API or straight through PostgREST with its own token): one event could
-- cost any number of deliveries. A client now has at most 10 (MAX_WEBHOOK_ENDPOINTS in
-- src/services/client_webhooks.ts names the same number; tests/http/webhook_endpoints_test.ts
-- holds them together). Stripe allows 16 endpoints per account; Svix leaves it to the operator.

create function private.webhook_endpoints_within_limit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- one client's inserts wait here for each other, so two at once cannot both pass the count
  perform pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || new.client_id::text, 0));
  if (select count(*) from public.webhook_endpoints e where e.client_id = new.client_id) >= 10 then
    raise exception 'A client may have at most 10 webhook endpoints'
      using errcode = 'GL409', hint = 'Delete an endpoint first';
  end if;
  return new;
end
$$;
revoke all on function private.webhook_endpoints_within_limit() from public, anon, authenticated;

create trigger webhook_endpoints_within_limit before insert on public.webhook_endpoints
  for each row execute function private.webhook_endpoints_within_limit();
