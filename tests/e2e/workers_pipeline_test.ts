import assert from "node:assert/strict";
import { join } from "node:path";
import { dataKeys } from "../../src/adapters/supabase/data_keys.ts";
import { encryptField, parseKeyring } from "../../src/core/crypto/envelope.ts";
import { startGraphEmulator } from "../../tools/emulators/graph_api.ts";
import { startAppProcess } from "../../tools/stack/app_process.ts";
import { freePort, ROOT } from "../../tools/stack/mod.ts";
import { clientWithKey } from "../_support/app.ts";
import { eventually } from "../_support/channel.ts";
import { serviceClient, sql, testStack } from "../_support/stack.ts";

Deno.test("in workerd, webhooks and sends run through the Cloudflare Queue consumer end to end", async () => {
  const stack = testStack();
  const { clientId, key } = await clientWithKey({ name: "Workers pipeline" });
  const wabaId = String(700_000_000_000 + Math.floor(Math.random() * 1e9));
  const phoneNumberId = String(800_000_000_000 + Math.floor(Math.random() * 1e9));
  const token = `EMU-${crypto.randomUUID()}`;
  const dek = await dataKeys({
    keyring: await parseKeyring(stack.secrets.master_keys),
    service: serviceClient(),
  })
    .forClient(clientId);
  const [waba] = await sql<{ id: string }>(
    "insert into whatsapp_business_accounts (client_id, waba_id, access_token_ciphertext) values ($1, $2, $3) returning id",
    [clientId, wabaId, await encryptField(dek, token, `wa_token:${wabaId}`)],
  );
  await sql(
    "insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number) values ($1, $2, $3, '1555')",
    [clientId, waba.id, phoneNumberId],
  );
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const emulator = await startGraphEmulator({
    appSecret: stack.secrets.meta_app_secret,
    webhookUrl: `${appUrl}/webhooks/whatsapp`,
    tokens: { [phoneNumberId]: token },
    wabaIdFor: () => wabaId,
    statusDelaysMs: { sent: 20, delivered: 40, read: null },
    quiet: true,
  });
  const dir = await Deno.makeTempDir({ dir: join(ROOT, ".dev"), prefix: "e2e-queue-" });
  const app = await startAppProcess({
    runtime: "workerd",
    env: {
      ...stack.appEnv,
      LOG_LEVEL: "warn",
      GRAPH_API_BASE_URL: emulator.url,
      RECIPIENT_MIN_INTERVAL_MS: "0",
    },
    port,
    dir,
    readyTimeoutMs: 45_000,
  });
  try {
    const inbound = await (await fetch(`${emulator.url}/__emulator/inbound`, {
      method: "POST",
      body: JSON.stringify({
        phone_number_id: phoneNumberId,
        from: "447700900990",
        text: "hello workerd",
      }),
    })).json();
    assert.equal(inbound.status, 200);
    await eventually(
      async () => {
        const rows = await sql("select 1 from messages where client_id = $1 and wamid = $2", [
          clientId,
          inbound.wamid,
        ]);
        return rows.length === 1;
      },
      "the queue consumer to store the inbound message",
      30_000,
    );

    const sent = await fetch(`${appUrl}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        to: "447700900990",
        type: "text",
        text: { body: "answered from workerd" },
      }),
    });
    assert.equal(sent.status, 202);
    const { message } = await sent.json();
    const final = await eventually(
      async () => {
        const [row] = await sql<{ status: string }>("select status from messages where id = $1", [
          message.id,
        ]);
        return row.status === "delivered" ? row : null;
      },
      "the send and its status webhooks",
      30_000,
    );
    assert.equal(final.status, "delivered");
    assert.equal(
      emulator.messages().filter((m) => m.bizOpaqueCallbackData === message.id).length,
      1,
    );
  } finally {
    await app.stop();
    await emulator.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
