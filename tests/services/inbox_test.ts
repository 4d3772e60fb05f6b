import assert from "node:assert/strict";
import { encryptSystem } from "../../src/core/crypto/envelope.ts";
import type { Job } from "../../src/ports/jobs.ts";
import {
  inboxConsumer,
  type InboxProcessor,
  MAX_INBOX_ATTEMPTS,
} from "../../src/services/inbox.ts";
import { sql, testApp } from "../_support/stack.ts";

/** Records, per provider, the deliveries (id and parsed body) its processor was handed. */
function recorders(providers: string[]) {
  const got = new Map<string, Array<{ id: number; body: unknown }>>();
  const processors = new Map<string, InboxProcessor>(providers.map((p) => [
    p,
    async (items) => {
      for (const i of items) got.set(p, [...got.get(p) ?? [], { id: i.id, body: await i.body() }]);
      return [];
    },
  ]));
  return { got, processors };
}

async function record(
  deps: Awaited<ReturnType<typeof testApp>>["deps"]["services"],
  provider: string,
  body: unknown,
) {
  const payload = await encryptSystem(deps.keyring, "inbox", JSON.stringify(body));
  const id = await deps.inbox.write(provider, crypto.randomUUID(), payload, null);
  assert.ok(id !== null);
  // as a sweep would find it: unclaimed (the test app writes rows claimed for itself)
  await sql("update webhook_inbox set locked_until = null, attempts = 0 where id = $1", [id]);
  return id;
}

Deno.test("deliveries of Meta and of a plugin, claimed in one batch, each reach their own provider's processor and are finished", async () => {
  const { deps } = await testApp();
  const services = deps.services;
  const meta = await record(services, "meta", { object: "whatsapp_business_account" });
  const plugin = await record(services, "example-shop", { order: 1001 });
  const { got, processors } = recorders(["meta", "example-shop"]);
  const jobs: Job[] = [{ kind: "inbox", id: meta }, { kind: "inbox", id: plugin }];
  const counts = await inboxConsumer(services, processors)(jobs as never);
  assert.deepEqual(counts, { processed: 2, failed: 0, skipped: 0 });
  assert.deepEqual(got.get("meta"), [{ id: meta, body: { object: "whatsapp_business_account" } }]);
  assert.deepEqual(got.get("example-shop"), [{ id: plugin, body: { order: 1001 } }]);
  const rows = await sql<{ provider: string; done: boolean; payload: boolean }>(
    "select provider, processed_at is not null as done, payload_ciphertext is not null as payload from webhook_inbox where id = any($1) order by id",
    [[meta, plugin]],
  );
  assert.deepEqual(rows, [
    { provider: "meta", done: true, payload: false },
    { provider: "example-shop", done: true, payload: false },
  ]);
});

Deno.test("a delivery of a provider nobody processes fails alone, keeps its payload, and is set aside after its last attempt", async () => {
  const { deps } = await testApp();
  const services = deps.services;
  const orphan = await record(services, "removed-plugin", { order: 7 });
  const meta = await record(services, "meta", { object: "whatsapp_business_account" });
  const { got, processors } = recorders(["meta"]);
  const consume = inboxConsumer(services, processors);
  const jobs = [{ kind: "inbox" as const, id: orphan }, { kind: "inbox" as const, id: meta }];
  assert.deepEqual(await consume(jobs), { processed: 1, failed: 1, skipped: 0 });
  assert.equal(got.get("meta")?.length, 1);
  const state = async () =>
    (await sql<{ done: boolean; last_error: string | null; payload: boolean }>(
      "select processed_at is not null as done, last_error, payload_ciphertext is not null as payload from webhook_inbox where id = $1",
      [orphan],
    ))[0];
  assert.deepEqual(await state(), {
    done: false,
    last_error: "No processor for provider removed-plugin",
    payload: true,
  });
  // its last attempt: due again now, as a sweep would find it
  await sql(
    "update webhook_inbox set attempts = $2, next_attempt_at = now(), locked_until = null where id = $1",
    [orphan, MAX_INBOX_ATTEMPTS - 1],
  );
  await consume([{ kind: "inbox", id: orphan }]);
  assert.deepEqual(await state(), {
    done: true,
    last_error: "No processor for provider removed-plugin",
    payload: true,
  });
});

Deno.test("the inbox refuses a provider name no plugin could have", async () => {
  const refused = await sql(
    "insert into webhook_inbox (provider, dedupe_key, payload_ciphertext) values ('Bad Name', 'k', 'x')",
  ).then(() => null, (e: Error) => e.message);
  assert.match(refused ?? "", /webhook_inbox_provider_check/);
});
