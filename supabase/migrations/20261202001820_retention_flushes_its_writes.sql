-- A retention pass writes its pages out as it goes.
--
-- The backend running a purge evicts the pages it empties from shared buffers into the kernel's
-- cache, and by default nothing flushes them. At a million expired messages (docs/benchmarks-log.md
-- section 7: bench/retention.ts, 1,000 rows 250 ms apart, 30 s baseline) it left about 2.4 GB
-- there, which the next checkpoint's fsync then wrote at once while every commit of the app waited
-- behind it (the inserts' p99 went to 4.2 times the baseline's). With backend_flush_after the
-- backend asks the kernel to write its pages every 256 kB, as the checkpointer and the background
-- writer already do with theirs, and the same purge took the inserts' p99 to about 3 times the
-- baseline's. The setting holds while the pass runs and is the session's own again afterwards; a
-- non-superuser may set it, as on Supabase.

alter function private.retention_pass(text, integer, interval, boolean)
  set backend_flush_after = '256kB';

comment on function private.retention_pass(text, integer, interval, boolean) is
  'One retention pass: one batch of at most max_rows rows for each data class whose run is open '
  'or due (every class when force), each recorded in privacy.retention_runs. Returns what each '
  'class removed and whether it is drained. Runs with backend_flush_after = 256kB, so that the '
  'pages it empties reach the disk as it goes instead of at the next checkpoint.';
