import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { notFound } from "../../../core/errors.ts";
import type { ClientStore } from "../../../ports/clients.ts";
import { AUTH_ERRORS } from "../../schemas.ts";
import { ANY_CREDENTIAL } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const MeSchema = z.object({
  client: z.object({ id: z.uuid(), name: z.string(), status: z.string() }),
  credential: z.object({
    kind: z.enum(["api_key", "user"]),
    key_id: z.uuid().nullable(),
    scopes: z.array(z.string()),
  }),
}).openapi("Me");

const route = createRoute({
  method: "get",
  path: "/me",
  operationId: "getMe",
  tags: ["Account"],
  summary: "The client and credential behind this request",
  ...ANY_CREDENTIAL,
  responses: {
    200: { content: { "application/json": { schema: MeSchema } }, description: "Who you are" },
    ...AUTH_ERRORS,
  },
});

export function meRoutes(clients: Pick<ClientStore, "get">) {
  return new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
    const p = c.get("principal");
    const data = await clients.get(p.clientId);
    if (!data) throw notFound("Client");
    return c.json({
      client: data,
      credential: { kind: p.kind, key_id: p.keyId, scopes: [...p.scopes].sort() },
    }, 200);
  });
}
