import assert from "node:assert/strict";
import { sql } from "../_support/stack.ts";
import { OWNED_SCHEMAS } from "../../tools/schema/dump.ts";

/**
 * Studio shows each table's, column's, view's and function's comment beside it: every one of the
 * schemas we own has one, written for the person reading it there (privacy staff, operators).
 */
async function uncommented(schemas: readonly string[]): Promise<string[]> {
  const rows = await sql<{ what: string }>(
    `select format('%s %I.%I', case c.relkind when 'v' then 'view' else 'table' end,
              n.nspname, c.relname) as what
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm')
        and coalesce(btrim(obj_description(c.oid, 'pg_class')), '') = ''
     union all
     select format('column %I.%I.%I', n.nspname, c.relname, a.attname)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm')
        and coalesce(btrim(col_description(c.oid, a.attnum)), '') = ''
     union all
     select format('function %I.%I(%s)', n.nspname, p.proname,
              pg_get_function_identity_arguments(p.oid))
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($1)
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
        and coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
     order by 1`,
    [schemas],
  );
  return rows.map((r) => r.what);
}

Deno.test("every table, column, view and function of the schemas we own has a comment", async () => {
  assert.deepEqual([...OWNED_SCHEMAS].sort(), ["privacy", "private", "public"]);
  assert.deepEqual(await uncommented(OWNED_SCHEMAS), []);
});

Deno.test("a table, column or function without a comment makes the check fail", async () => {
  await sql(`create table privacy.comment_probe (id int primary key);
    comment on table privacy.comment_probe is 'A probe.';
    create function privacy.comment_probe_fn() returns int language sql as 'select 1';`);
  try {
    assert.deepEqual(await uncommented(["privacy"]), [
      "column privacy.comment_probe.id",
      "function privacy.comment_probe_fn()",
    ]);
  } finally {
    await sql("drop table privacy.comment_probe; drop function privacy.comment_probe_fn();");
  }
});
