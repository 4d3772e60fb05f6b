-- Routines in `private` were executable by every role: PostgreSQL grants EXECUTE on each new
-- function to PUBLIC, and the migrations that created status_rank and the trigger functions
-- (check_retry_of, refuse_status_regression, touch_updated_at) never revoked it. anon and
-- authenticated hold USAGE on the schema (their RLS policies call private.current_client_id), so
-- any role could call them. None of them is a security definer, so nothing leaked, but the schema
-- is meant to hold what a migration grants and nothing else; `supabase db advisors` has no lint for
-- it, so this comes from review.
-- Existing routines lose PUBLIC's EXECUTE (the roles that need one hold their own grant), and
-- routines the migrations' role creates from now on, in any schema, start without it, so a
-- forgotten `revoke ... from public` can no longer open one. This must be the role's global
-- default: a default given `in schema` only adds to the global one, so revoking there changes
-- nothing (which is also why 20261124000000_supabase_compat.sql's revoke from public in `public`
-- had no effect; every function in `public` revokes it itself). A trigger function needs no
-- EXECUTE by the role whose statement fires it: PostgreSQL checks that when the trigger is created.

revoke execute on all routines in schema private from public;
alter default privileges revoke execute on routines from public;
