import assert from "node:assert/strict";
import { join } from "node:path";
import {
  generateWebhookSecret,
  signStandardWebhook,
} from "../../../src/core/webhooks/standard_webhooks.ts";
import { CLIENT_DIR } from "../../../tools/openapi.ts";
import { startChannel } from "../../_support/channel.ts";

const run = async (command: string, args: string[], env: Record<string, string> = {}) => {
  const out = await new Deno.Command(command, {
    args,
    cwd: CLIENT_DIR,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(
    out.code,
    0,
    `${command} ${args.join(" ")}:\n${text(out.stdout)}${text(out.stderr)}`,
  );
  return text(out.stdout);
};

// what a Node user runs: the package as `npm run build` compiles it, imported as plain ESM
const SCRIPT = `
import { createClient, verifyWebhook, GlooftError } from "./dist/mod.js";
const input = JSON.parse(process.env.INPUT);
const glooft = createClient({ baseUrl: input.baseUrl, apiKey: input.apiKey });
const me = await glooft.getMe();
const missing = await glooft.getMessage({ path: { id: crypto.randomUUID() } }).catch((e) => e);
const event = await verifyWebhook(
  { body: input.body, headers: input.headers },
  { secret: input.secret },
);
const refused = await verifyWebhook(
  { body: input.body + " ", headers: input.headers },
  { secret: input.secret },
).catch((e) => e.reason);
console.log(JSON.stringify({
  node: process.version,
  client: me.client.id,
  missing: missing instanceof GlooftError ? missing.code : String(missing),
  event,
  refused,
}));
`;

Deno.test("the built client runs on Node (20+): it calls the API, throws the typed error and verifies a webhook with Node's Web Crypto", async () => {
  const ch = await startChannel();
  try {
    await run("node", [join("..", "..", "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
    const secret = generateWebhookSecret();
    const body = JSON.stringify({
      type: "webhook.test",
      timestamp: new Date().toISOString(),
      data: { endpoint_id: crypto.randomUUID() },
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = await signStandardWebhook({ secret, id: "evt_node", timestamp, body });
    const stdout = await run("node", ["--input-type=module", "-e", SCRIPT], {
      INPUT: JSON.stringify({
        baseUrl: ch.appUrl,
        apiKey: ch.key,
        secret,
        body,
        headers: {
          "webhook-id": "evt_node",
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signature,
        },
      }),
    });
    const result = JSON.parse(stdout);
    assert.ok(Number(/^v(\d+)/.exec(result.node)?.[1]) >= 20, result.node);
    assert.equal(result.client, ch.clientId);
    assert.equal(result.missing, "not_found");
    assert.deepEqual(result.event, JSON.parse(body));
    assert.equal(result.refused, "invalid_signature");
  } finally {
    await ch.close();
  }
});
