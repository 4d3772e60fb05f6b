import * as z from "zod";
import { definePlugin } from "../../../src/plugin_api/mod.ts";

const encoder = new TextEncoder();

async function hmacHex(secret: string, body: Uint8Array<ArrayBuffer>): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, body));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** constant-time comparison of two hex strings */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * An example plugin, as a new integration would be written: its own folder, importing only
 * src/plugin_api/ (and npm packages), registered with one line in plugins/mod.ts. It answers
 * "echo <text>" messages, keeps a count in its state, accepts signed webhooks from its
 * (imaginary) shop upstream, verifies the shop a client claims, and serves one page.
 */
export const example = definePlugin({
  id: "example-echo",
  version: "0.1.0",
  name: "Example echo",
  description: "Answers `echo <text>` and relays its shop's webhooks as messages",
  config: z.object({
    greeting: z.string().min(1).max(50).default("Hello"),
    shop: z.string().regex(/^[a-z0-9-]+\.example\.com$/).optional(),
  }),
  secrets: ["api_token"],
  env: ["EXAMPLE_WEBHOOK_SECRET"],
  upstreams: ["*.example.com"],
  on: {
    "message.received": {
      filter: (data) => typeof data.text === "string" && data.text.startsWith("echo "),
      async handle(event, ctx) {
        const to = event.data.from ?? event.data.from_user_id;
        if (!to) return;
        const count = (await ctx.state.get<number>(`echoes:${to}`)) ?? 0;
        await ctx.state.set(`echoes:${to}`, count + 1);
        await ctx.send({ to, text: `${ctx.config.greeting}: ${event.data.text!.slice(5)}` });
      },
    },
  },
  routingKey: {
    fromConfig: (config) => config.shop ?? null,
    // a real plugin asks its upstream whether the client's credentials own the shop
    verify: (shop, ctx) =>
      Promise.resolve(
        ctx.secrets.api_token === `token-for-${shop}` ? null : "the API token is not this shop's",
      ),
  },
  webhooks: {
    keepHeaders: ["x-example-topic"],
    async verify(request, env) {
      const secret = env.get("EXAMPLE_WEBHOOK_SECRET")!;
      const signature = request.headers.get("x-example-signature") ?? "";
      if (!sameHex(signature, await hmacHex(secret, request.body))) {
        return { valid: false, reason: "the signature does not match" };
      }
      const shop = request.headers.get("x-example-shop");
      const id = request.headers.get("x-example-delivery");
      if (!shop || !id) return { valid: false, reason: "shop or delivery id missing" };
      return { valid: true, dedupeKey: id, routingKey: shop };
    },
    async handle(delivery, ctx) {
      const body = delivery.body as { to: string; text: string };
      await ctx.send({
        to: body.to,
        text: `[${delivery.headers["x-example-topic"]}] ${body.text}`,
        key: `webhook:${delivery.id}`,
      });
    },
  },
  routes: [{
    method: "GET",
    path: "/ping",
    handler: () => Promise.resolve(new Response("pong")),
  }],
  privacy: {
    async export(contact, ctx) {
      return { echoes: await ctx.state.get(`echoes:${contact.waId}`) };
    },
    async erase(contact, ctx) {
      await ctx.state.delete(`echoes:${contact.waId}`);
    },
  },
});
