-- Local stack only (never a migration): what hosted Supabase configures outside the migrations.
-- PostgREST reloads its schema cache when notified, like the hosted API does after a migration.
notify pgrst, 'reload schema';
