import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { ClientStore } from "../../ports/clients.ts";
import { PUBLIC } from "../openapi.ts";
import type { AppEnv } from "../types.ts";

const route = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "getHealth",
  tags: ["Operations"],
  summary: "Liveness and database reachability",
  ...PUBLIC,
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
      description: "The database answers",
    },
    503: {
      content: {
        "application/json": { schema: z.object({ status: z.literal("unavailable") }) },
      },
      description: "The database does not answer",
    },
  },
});

export function healthRoutes(clients: Pick<ClientStore, "ping">) {
  return new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
    c.set("unlogged", true);
    try {
      await clients.ping(2000);
      return c.json({ status: "ok" as const }, 200);
    } catch (error) {
      c.get("logger").warn("healthcheck_failed", { message: (error as Error).message });
    }
    return c.json({ status: "unavailable" as const }, 503);
  });
}
