import assert from "node:assert/strict";
import { sql } from "../_support/stack.ts";

/** Routines of `schemas` that PUBLIC (every role) may execute, by their signature. */
async function publicRoutines(schemas: string[]): Promise<string[]> {
  const rows = await sql<{ routine: string }>(
    `select p.oid::regprocedure::text as routine from pg_proc p
      where p.pronamespace::regnamespace::text = any($1)
        and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     where a.grantee = 0 and a.privilege_type = 'EXECUTE')
      order by 1`,
    [schemas],
  );
  return rows.map((r) => r.routine);
}

Deno.test("no routine in private or privacy is executable by every role, nor one the migrations' role creates there later", async () => {
  assert.deepEqual(await publicRoutines(["private", "privacy"]), []);
  await sql(
    "create function private.routine_grants_probe() returns int language sql as 'select 1'",
  );
  try {
    assert.deepEqual(await publicRoutines(["private"]), []);
  } finally {
    await sql("drop function private.routine_grants_probe()");
  }
});

Deno.test("every routine in public that an API role may call says so with its own grant", async () => {
  assert.deepEqual(await publicRoutines(["public"]), []);
});
