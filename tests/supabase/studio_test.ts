import assert from "node:assert/strict";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { waitForHttp } from "../../tools/stack/postgrest.ts";
import { testStack } from "../_support/stack.ts";

/**
 * What Supabase Studio shows privacy staff, read through Studio's own backend: postgres-meta
 * (@supabase/postgres-meta, the server Studio's Table Editor and SQL editor talk to), started
 * against the test database as Studio connects, as postgres. It runs on Node, as Supabase ships
 * it: its server imports Sentry's native CPU profiler, which Deno's Node layer cannot load.
 */
async function startPostgresMeta() {
  const port = await freePort();
  const child = new Deno.Command("node", {
    args: ["node_modules/@supabase/postgres-meta/dist/server/server.js"],
    cwd: ROOT,
    env: {
      PG_META_DB_URL: testStack().adminDbUrl,
      PG_META_HOST: "127.0.0.1",
      PG_META_PORT: String(port),
      // its admin server (metrics) listens on PG_META_PORT + 1 unless told otherwise
      PG_META_ADMIN_PORT: String(await freePort()),
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health`, "postgres-meta", { timeoutMs: 60_000 });
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  return {
    get: async (path: string) => {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 200, path);
      return await res.json();
    },
    /** what Studio's SQL editor does: POST /query */
    query: async (query: string) => {
      const res = await fetch(`${url}/query`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query }),
      });
      assert.equal(res.status, 200, query);
      return await res.json();
    },
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("Studio's backend lists the privacy views (requests, erasures, holds, retention), tables and staff functions, each with its comment", async () => {
  const meta = await startPostgresMeta();
  try {
    const views = await meta.get("/views?included_schemas=privacy") as Json[];
    assert.deepEqual(views.map((v) => v.name).sort(), [
      "active_legal_holds",
      "open_requests",
      "overdue_requests",
      "plugin_requests",
      "recent_erasures",
      "retention_in_effect",
      "staff_actions",
    ]);
    for (const view of views) {
      assert.ok(view.comment?.length > 20, `${view.name} has a comment`);
      for (const column of view.columns) {
        assert.ok(column.comment?.length > 3, `${view.name}.${column.name} has a comment`);
      }
    }

    const tables = await meta.get("/tables?included_schemas=privacy") as Json[];
    assert.deepEqual(tables.map((t) => t.name).sort(), [
      "client_offboardings",
      "legal_holds",
      "retention_classes",
      "retention_policies",
      "retention_runs",
    ]);
    for (const table of tables) {
      assert.ok(table.comment?.length > 20, `${table.name} has a comment`);
      assert.equal(table.rls_enabled, true, `${table.name} has row-level security`);
      for (const column of table.columns) {
        assert.ok(column.comment?.length > 3, `${table.name}.${column.name} has a comment`);
      }
    }

    const functions = await meta.get("/functions?included_schemas=privacy") as Json[];
    assert.deepEqual(functions.map((f) => f.name).sort(), [
      "act_as",
      "apply_correction",
      "approve_request",
      "extend_deadline",
      "lift_legal_hold",
      "place_legal_hold",
      "reject_request",
      "run_fulfilment",
    ]);
    for (const f of functions) {
      assert.deepEqual(f.config_params, { search_path: '""' }, `${f.name} pins its search_path`);
      // the staff actions write what privacy_staff cannot: they run as their owner, audited
      assert.equal(f.security_definer, f.name !== "act_as", f.name);
    }
    // postgres-meta's function listing has no comment field: read them as the SQL editor would
    const comments = await meta.query(
      `select p.proname as name, obj_description(p.oid, 'pg_proc') as comment
         from pg_proc p where p.pronamespace = 'privacy'::regnamespace order by 1`,
    ) as Json[];
    assert.equal(comments.length, functions.length);
    for (const c of comments) assert.ok(c.comment?.length > 20, `${c.name} has a comment`);

    // every view shows the reader what the reader may see (security_invoker)
    const options = await meta.query(
      `select c.relname as name, c.reloptions as options from pg_class c
        where c.relnamespace = 'privacy'::regnamespace and c.relkind = 'v' order by 1`,
    ) as Json[];
    for (const v of options) {
      assert.ok((v.options ?? []).includes("security_invoker=true"), `${v.name}: security_invoker`);
    }
  } finally {
    await meta.stop();
  }
});
