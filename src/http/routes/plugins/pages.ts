import { Hono } from "hono";
import { pluginContext } from "../../../services/plugins/context.ts";
import type { PluginHost } from "../../../services/plugins/host.ts";
import { installationFor } from "../../../services/plugins/runner.ts";
import type { AppEnv } from "../../types.ts";

/**
 * The plugins' own pages and endpoints (`routes`), at `/plugins/<plugin id><path>`: public, so
 * each handler authenticates its caller itself (an upstream's signed redirect, say); the host
 * gives it the installation its routing key names.
 */
export function pluginPageRoutes(host: PluginHost) {
  const app = new Hono<AppEnv>();
  for (const plugin of host.deps.registry.list) {
    for (const route of plugin.routes ?? []) {
      const path = `/plugins/${plugin.id}${route.path}`;
      const handle = (
        c: { req: { raw: Request }; get(k: "logger"): AppEnv["Variables"]["logger"] },
      ) =>
        route.handler(c.req.raw, {
          logger: c.get("logger").child({ plugin: plugin.id }),
          env: host.deps.registry.env(plugin.id),
          async installation(routingKey) {
            const found = await host.deps.plugins.byRoutingKey(plugin.id, routingKey);
            if (!found) return null;
            const running = await installationFor(host.deps, plugin, found.client_id);
            if (!running) return null;
            return pluginContext(host.deps, plugin, found.client_id, {
              ...running,
              signal: c.req.raw.signal,
              sendKey: `route:${crypto.randomUUID()}`,
            });
          },
        });
      if (route.method === "GET") app.get(path, (c) => handle(c));
      else app.post(path, (c) => handle(c));
    }
  }
  return app;
}
