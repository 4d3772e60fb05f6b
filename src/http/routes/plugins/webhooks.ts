import { Hono } from "hono";
import type { PluginHost } from "../../../services/plugins/host.ts";
import { recordPluginWebhook } from "../../../services/plugins/webhooks.ts";
import { limitBody } from "../../middleware/limit_body.ts";
import type { AppEnv } from "../../types.ts";

/**
 * `POST /webhooks/<plugin id>` for each plugin with webhooks: the raw bytes go to the plugin's
 * verify() before anything is parsed or stored; a verified delivery is recorded in the inbox and
 * acknowledged, and processed after the answer (as Meta's are).
 */
export function pluginWebhookRoutes(host: PluginHost, maxBodyBytes: number) {
  const app = new Hono<AppEnv>();
  for (const plugin of host.deps.registry.list) {
    if (!plugin.webhooks) continue;
    app.post(`/webhooks/${plugin.id}`, limitBody(maxBodyBytes, "Webhook bodies"), async (c) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const { duplicate, routed } = await recordPluginWebhook(host.deps, plugin, {
        body,
        headers: c.req.raw.headers,
      });
      // its inbox row (or, on Workers, its queued message: the consumer records it) is the record
      // of a routed delivery; a dropped one is kept in the request log
      if (!routed) return c.json({ received: true, routed }, 200);
      c.set("unlogged", true);
      // queued on Workers, recorded after this answer: whether it repeats one is not known yet
      return c.json(duplicate === null ? { received: true } : { received: true, duplicate }, 200);
    });
  }
  return app;
}
