/**
 * Secrets never reach the logs. The app logs at debug level through a workload that handles every
 * kind of secret there is: right and wrong API keys, user tokens (valid, expired, forged), the
 * stack's own keys sent as credentials, webhook signing secrets made and rotated, a WhatsApp access
 * token used against the Graph API emulator, message bodies in and out, refused and failing
 * deliveries, client webhooks that fail and succeed. Every line written is scanned.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startGraphEmulator } from "../../tools/emulators/graph_api.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { envelope, inbound, status, wamid } from "../_support/meta_fixtures.ts";
import { checkCases } from "../_support/fuzz.ts";
import { captureConsole, findSecrets, stackSecrets } from "../_support/secret_scan.ts";
import { signJwt, sql, testStack } from "../_support/stack.ts";

Deno.test("no line the app logs while handling keys, tokens, secrets and message bodies holds any of them", async () => {
  const secrets = testStack().secrets;
  const known: Record<string, string> = stackSecrets();
  const body = (what: string) => (known[what] = `${what}-${crypto.randomUUID()}`);

  // a client endpoint that fails once, then accepts
  let calls = 0;
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      return new Response(null, { status: ++calls === 1 ? 500 : 204 });
    },
  );

  const { lines } = await captureConsole(async () => {
    let emulator: Awaited<ReturnType<typeof startGraphEmulator>> | undefined;
    const ch = await startChannel({
      env: { LOG_LEVEL: "debug", AUTH_FAILURES_PER_MINUTE: "10000", SEND_BACKOFF_BASE_MS: "50" },
      graph: async ({ appWebhookUrl, phoneNumberId, accessToken, wabaId }) => {
        emulator = await startGraphEmulator({
          port: 0,
          appSecret: secrets.meta_app_secret,
          webhookUrl: appWebhookUrl,
          tokens: { [phoneNumberId]: accessToken },
          wabaIdFor: () => wabaId,
          statusDelaysMs: { sent: 10, delivered: 20, read: 30 },
          faults: { rate: 0.3, kinds: ["server_error"], seed: 7 },
          quiet: true,
        });
        return emulator;
      },
    });
    try {
      known["the client's API key"] = ch.key;
      known["the WhatsApp access token"] = ch.accessToken;
      const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

      // credentials right, wrong, revoked, expired and forged; the stack's own keys as bearers
      await ch.api("/v1/me");
      const user = await signJwt({ sub: "u1", app_metadata: { client_id: ch.clientId } });
      const expired = await signJwt({ sub: "u1", app_metadata: { client_id: ch.clientId } }, "-1m");
      const forged = await new SignJWT({
        role: "authenticated",
        app_metadata: { client_id: ch.clientId },
      })
        .setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m")
        .sign(new TextEncoder().encode("not-the-secret-but-long-enough-to-sign-with"));
      Object.assign(known, {
        "a user token": user,
        "an expired token": expired,
        "a forged token": forged,
      });
      const wrongKey = `glf_live_${"Z".repeat(32)}`;
      for (
        const token of [
          user,
          expired,
          forged,
          wrongKey,
          secrets.service_role_key,
          secrets.anon_key,
          secrets.jwt_secret,
          secrets.api_key_pepper,
          secrets.meta_app_secret,
        ]
      ) {
        await ch.api("/v1/me", as(token));
      }
      const made = await ch.api("/v1/api-keys", {
        method: "POST",
        body: JSON.stringify({ name: "made in the log test", scopes: ["messages:read"] }),
      });
      known["a key made through the API"] = made.body.key;
      await ch.api(`/v1/api-keys/${made.body.api_key.id}`, { method: "DELETE" });
      await ch.api("/v1/me", as(made.body.key));

      // client webhooks: a signing secret made and rotated, deliveries failing then succeeding
      const endpoint = await ch.api("/v1/webhook-endpoints", {
        method: "POST",
        body: JSON.stringify({ url: `http://127.0.0.1:${receiver.addr.port}/hook` }),
      });
      known["a webhook signing secret"] = endpoint.body.secret;
      const rotated = await ch.api(
        `/v1/webhook-endpoints/${endpoint.body.endpoint.id}/rotate-secret`,
        {
          method: "POST",
        },
      );
      known["a rotated webhook signing secret"] = rotated.body.secret;

      // inbound messages with bodies and names; a delivery PostgreSQL cannot store; a forged one
      const customer = "447700900555";
      for (const type of ["text", "interactive"]) {
        const text = body(`an inbound ${type} body`);
        const payload = type === "text"
          ? { text: { body: text } }
          : { interactive: { type: "button_reply", button_reply: { id: "b", title: text } } };
        await ch.postWebhook(
          envelope(
            ch.wabaId,
            ch.phoneNumberId,
            inbound(customer, type, payload, {
              name: body(`a profile name (${type})`),
            }),
          ),
        );
      }
      await ch.postWebhook(envelope(ch.wabaId, ch.phoneNumberId, {
        ...inbound(customer, "text", {
          text: { body: body("a body beside an unstorable status") },
        }),
        ...status(wamid(), "failed", {
          errors: [{
            code: 131026,
            title: "\u0000",
            error_data: { details: body("error details") },
          }],
        }),
      }));
      await ch.postWebhook(
        envelope(
          ch.wabaId,
          ch.phoneNumberId,
          inbound(customer, "text", { text: { body: body("a forged body") } }),
        ),
        "not-the-app-secret",
      );

      // outbound: bodies sent through the emulator (some calls fail and are retried)
      await ch.idle();
      for (let i = 0; i < 4; i++) {
        await ch.api("/v1/messages", {
          method: "POST",
          body: JSON.stringify({
            to: `+${customer}`,
            type: "text",
            text: { body: body(`an outbound body ${i}`) },
          }),
        });
      }
      await ch.api(`/v1/contacts/${"-".repeat(36)}`); // an input that reaches an error path
      await eventually(
        () => Promise.resolve(calls >= 2),
        "the client endpoint to be called twice",
        20_000,
      );
      await eventually(
        async () =>
          (await sql<{ n: number }>(
            "select count(*)::int as n from messages where client_id = $1 and direction = 'outbound' and status in ('sent', 'delivered', 'read')",
            [ch.clientId],
          ))[0].n === 4,
        "the outbound messages to be sent",
        20_000,
      );
      await ch.app.deps.requestLog.flush();
    } finally {
      await ch.close();
    }
  });
  await receiver.shutdown();

  await checkCases(
    "security",
    "log lines scanned for secrets, keys, tokens and message bodies",
    (tally) => {
      tally.inputs = lines.length;
      assert.ok(lines.length > 20, `only ${lines.length} log lines: is the app logging at debug?`);
      const found = findSecrets(lines, known);
      assert.deepEqual(
        found.map((f) => `${f.what}: ${f.line.slice(0, 300)}`),
        [],
        `${found.length} log line(s) hold a secret`,
      );
      console.log(
        `[reliability] ${lines.length} log lines scanned for ${Object.keys(known).length} secrets`,
      );
    },
  );
});
