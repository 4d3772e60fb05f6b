import assert from "node:assert/strict";
import { refusedForContent } from "../../../src/adapters/supabase/refused.ts";

Deno.test("refusedForContent() blames the content for data, constraint, limit and raised errors, and nothing else", () => {
  const content: Array<[string, number]> = [
    ["22P05", 400], // untranslatable character
    ["22007", 400], // invalid datetime format
    ["22008", 400], // datetime out of range
    ["22023", 400], // invalid parameter value (our functions' input checks)
    ["23514", 400], // check constraint
    ["23502", 400], // not null
    ["23505", 409], // unique violation
    ["54000", 413], // index row size exceeds the b-tree maximum
    ["54001", 413], // stack depth (nesting)
    ["P0001", 400], // raise exception
    ["21000", 500], // cardinality
    ["PGRST102", 400], // PostgREST: empty or invalid JSON body
    ["", 413], // a gateway refusing the body's size
  ];
  const around: Array<[string, number]> = [
    ["", 0], // no answer (connection refused, reset, DNS)
    ["", 502], // a gateway with PostgREST down
    ["", 503],
    ["PGRST000", 503], // PostgREST cannot reach PostgreSQL
    ["PGRST001", 503],
    ["PGRST002", 503], // schema cache not loaded (restart)
    ["PGRST003", 504], // timed out waiting for a pool connection
    ["PGRST301", 401], // JWT refused (configuration)
    ["08006", 503], // connection failure
    ["53300", 503], // too many connections
    ["57P01", 503], // administrator shutdown
    ["57014", 500], // statement timeout
    ["40001", 500], // serialization failure
    ["40P01", 500], // deadlock
    ["55P03", 500], // lock not available
    ["42883", 404], // function missing (a deploy without its migration)
    ["42501", 403], // permission
    ["XX000", 500], // internal error
  ];
  for (const [code, status] of content) {
    assert.equal(refusedForContent({ code }, status), true, `${code} ${status}`);
  }
  for (const [code, status] of around) {
    assert.equal(refusedForContent({ code }, status), false, `${code} ${status}`);
  }
  assert.equal(refusedForContent({}, 0), false);
  assert.equal(refusedForContent({ code: null }, 500), false);
});
