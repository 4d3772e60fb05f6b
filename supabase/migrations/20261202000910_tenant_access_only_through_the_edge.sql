-- A client's Supabase Auth user token (app_metadata.client_id) gave that client's RLS access at
-- PostgREST itself, not only through the edge API: the project URL is public, so a client could
-- read and write its rows directly and skip every rule the API keeps (statuses only move forward,
-- consent changes recorded as events, webhook URLs checked, dead letters re-driven as new messages,
-- routing keys claimed through verification). The reliability suite's security work found rows
-- written that way reaching the send job and the re-drive. The edge API still accepts such a token
-- (src/http/middleware/auth.ts) and then acts for the client with a JWT of its own, minted with the
-- JWT secret and a top-level client_id claim, which a user cannot give itself. Only that claim now
-- names the client RLS acts for; a user token at PostgREST sees and changes nothing.

create or replace function private.current_client_id() returns uuid
language sql stable
set search_path = ''
as $$
  select nullif(auth.jwt() ->> 'client_id', '')::uuid
$$;
comment on function private.current_client_id() is
  'The client RLS acts for: the top-level client_id claim of the JWT the edge mints for it. A '
  'Supabase Auth user token (app_metadata.client_id) names no client here: users act through the '
  'edge API, never at PostgREST directly.';
