import assert from "node:assert/strict";
import { appUnderTest, bearer, clientWithKey } from "../_support/app.ts";
import { sql } from "../_support/stack.ts";

const put = (key: string, ref: string, body: Record<string, unknown>) => ({
  path: `/v1/contacts/${ref}/consent`,
  init: {
    method: "PUT",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  },
});

Deno.test("recording consent writes the contact, its history and one audit record naming the previous status", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  const first = put(key, "+447700900401", { status: "opted_in", source: "checkout" });
  assert.equal((await call(first.path, first.init)).status, 200);
  const then = put(key, "+447700900401", { status: "opted_out", source: "reply_stop" });
  const res = await call(then.path, { ...then.init, headers: { ...then.init.headers } });
  assert.equal(res.status, 200);
  assert.equal(res.body.contact.consent.status, "opted_out");
  assert.equal(res.body.contact.consent.source, "reply_stop");

  const history = await sql<{ status: string; source: string }>(
    "select status, source from consent_events where client_id = $1 order by id",
    [clientId],
  );
  assert.deepEqual(history, [
    { status: "opted_in", source: "checkout" },
    { status: "opted_out", source: "reply_stop" },
  ]);
  const audits = await sql<{ action: string; details: Record<string, unknown> }>(
    "select action, details from audit_log where client_id = $1 and target_type = 'contact' order by id",
    [clientId],
  );
  assert.deepEqual(audits, [
    { action: "contact.opted_in", details: { source: "checkout", previous: "unknown" } },
    { action: "contact.opted_out", details: { source: "reply_stop", previous: "opted_in" } },
  ]);
});

Deno.test("a consent decision whose history cannot be written leaves nothing behind: no contact change, no audit record", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  const ok = put(key, "+447700900402", { status: "opted_in", source: "checkout" });
  assert.equal((await call(ok.path, ok.init)).status, 200);
  // the consent history refuses this one decision, as a failing disk or a bug would
  const marker = `refused-${crypto.randomUUID()}`;
  await sql(`
    create or replace function public.consent_refusal_probe() returns trigger language plpgsql as $$
    begin
      if new.source like 'refused-%' then raise exception 'history unavailable'; end if;
      return new;
    end $$;
    create trigger consent_events_refuse_probe before insert on public.consent_events
      for each row execute function public.consent_refusal_probe();`);
  try {
    const refused = put(key, "+447700900402", { status: "opted_out", source: marker });
    assert.equal((await call(refused.path, refused.init)).status, 500);
  } finally {
    await sql(`drop trigger consent_events_refuse_probe on public.consent_events;
      drop function public.consent_refusal_probe();`);
  }
  const [contact] = await sql<{ consent_status: string; consent_source: string }>(
    "select consent_status, consent_source from contacts where client_id = $1",
    [clientId],
  );
  assert.deepEqual(contact, { consent_status: "opted_in", consent_source: "checkout" });
  const audits = await sql(
    "select 1 from audit_log where client_id = $1 and details->>'source' = $2",
    [
      clientId,
      marker,
    ],
  );
  assert.deepEqual(audits, []);
});

Deno.test("consent for a contact id that names nobody of this client is a 404 and records nothing", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  const req = put(key, crypto.randomUUID(), { status: "opted_out", source: "api" });
  const res = await call(req.path, req.init);
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, "not_found");
  assert.deepEqual(await sql("select 1 from consent_events where client_id = $1", [clientId]), []);
});
