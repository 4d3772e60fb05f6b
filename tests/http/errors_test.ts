import assert from "node:assert/strict";
import { Hono } from "hono";
import { DatabaseError } from "../../src/core/errors.ts";
import { onError } from "../../src/http/errors.ts";
import type { AppEnv } from "../../src/http/types.ts";

function appThrowing(error: Error) {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.use((c, next) => {
    c.set("requestId", "req-1");
    return next();
  });
  app.get("/", () => {
    throw error;
  });
  return app;
}

Deno.test("onError() answers 400 for a database error only a request value can cause", async () => {
  for (const code of ["22P02", "22007", "22008", "22P05", "22003", "23514", "54000", "PGRST100"]) {
    const res = await appThrowing(new DatabaseError("Could not list", { code, message: "x" }))
      .request("/");
    assert.equal(res.status, 400, code);
    const body = await res.json();
    assert.equal(body.error.code, "invalid_request", code);
    assert.equal(body.error.request_id, "req-1");
    assert.ok(!JSON.stringify(body).includes("Could not list"), "no database detail leaks");
  }
});

Deno.test("onError() keeps any other database error a 500 without its detail", async () => {
  for (const code of ["42P01", "40P01", "57014", "23505", "PGRST301", null]) {
    const res = await appThrowing(
      new DatabaseError("Could not list", { code, message: "relation secret does not exist" }),
    ).request("/");
    assert.equal(res.status, 500, String(code));
    const body = await res.json();
    assert.equal(body.error.code, "internal_error");
    assert.ok(!JSON.stringify(body).includes("secret"));
  }
});
