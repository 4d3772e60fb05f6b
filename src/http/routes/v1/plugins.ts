import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  configurePlugin,
  getPlugin,
  listPlugins,
  removePlugin,
  retryParked,
} from "../../../services/plugins/manage.ts";
import type { PluginHost } from "../../../services/plugins/host.ts";
import { AUTH_ERRORS, BODY_ERRORS, errorResponse, notFoundResponse, text } from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const PluginSchema = z.object({
  id: z.string().openapi({ example: "opt-out" }),
  name: z.string(),
  version: z.string(),
  description: z.string().nullable(),
  enabled_by_default: z.boolean().openapi({
    description: "On for every client that has not configured it, with its config's defaults",
  }),
  events: z.array(z.string()).openapi({ description: "The core events it reacts to" }),
  secrets: z.array(z.string()).openapi({ description: "The secrets a client may set" }),
  config_schema: z.record(z.string(), z.unknown()).openapi({
    description: "What `config` may hold, as JSON Schema (draft 2020-12)",
  }),
  enabled: z.boolean().openapi({ description: "Whether it is on for this client" }),
  installed: z.boolean().openapi({ description: "Whether this client has configured it" }),
}).openapi("Plugin");

const ParkedSchema = z.object({
  id: z.uuid(),
  event_type: z.string(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  finished_at: z.string().nullable(),
}).openapi("ParkedPluginEvent");

const InstallationSchema = z.object({
  enabled: z.boolean(),
  installed: z.boolean(),
  config: z.unknown().openapi({ description: "The config in force (null: off and never set)" }),
  secrets: z.record(z.string(), z.boolean()).openapi({
    description: "Which secrets are set; their values are never returned",
    example: { api_token: true },
  }),
  routing_key: z.string().nullable().openapi({
    description: "What the plugin's upstream names this installation by (a shop domain)",
  }),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
  parked: z.array(ParkedSchema).openapi({
    description: "The latest events its handler failed on every attempt, with their errors " +
      "(`POST /v1/plugins/{plugin}/retry` sends them again)",
  }),
}).openapi("PluginInstallation");

const PluginParams = z.object({
  // ids are kebab-case; a folder's snake_case name (opt_out) is taken for its id (opt-out)
  plugin: z.string().regex(/^[a-z][a-z0-9_-]{1,62}$/)
    .transform((id) => id.replaceAll("_", "-"))
    .openapi({
      example: "opt-out",
      description: "The plugin's id (`opt_out` is read as `opt-out`)",
    }),
});
const Answer = z.object({ plugin: PluginSchema, installation: InstallationSchema });
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const manage = access("plugins:manage");
const tags = ["Plugins"];

const list = createRoute({
  method: "get",
  path: "/plugins",
  operationId: "listPlugins",
  tags,
  summary: "Every plugin of this deployment, its config as JSON Schema, and whether it is on",
  ...manage,
  responses: {
    200: json(z.object({ data: z.array(PluginSchema) }), "The plugins"),
    ...AUTH_ERRORS,
  },
});

const get = createRoute({
  method: "get",
  path: "/plugins/{plugin}",
  operationId: "getPlugin",
  tags,
  summary: "One plugin with this client's installation and its parked events",
  ...manage,
  request: { params: PluginParams },
  responses: { 200: json(Answer, "The plugin"), 404: notFoundResponse, ...AUTH_ERRORS },
});

const put = createRoute({
  method: "put",
  path: "/plugins/{plugin}",
  operationId: "configurePlugin",
  tags,
  summary: "Install or configure a plugin, set its secrets, turn it on or off",
  description: "`config` replaces the config in force and is validated against the plugin's " +
    "`config_schema` (a 400 names each bad field, as `config.<field>`); omitted, the config in " +
    "force (or the defaults) stays. `secrets` are merged: a value sets one, null removes it; " +
    "they are stored encrypted and never returned. A config that names a routing key (a shop " +
    "domain) is verified by the plugin first (422 `plugin_verification_failed`); a key another " +
    "client holds is 409 `plugin_routing_key_taken`. Audited.",
  ...manage,
  request: {
    params: PluginParams,
    body: {
      content: {
        "application/json": {
          schema: z.strictObject({
            enabled: z.boolean().optional(),
            config: z.record(z.string(), z.unknown()).optional(),
            secrets: z.record(z.string().max(63), text(4096).nullable()).optional(),
          }),
        },
      },
      required: true,
    },
  },
  responses: {
    200: json(Answer, "Saved"),
    404: notFoundResponse,
    409: errorResponse("plugin_routing_key_taken"),
    422: errorResponse("plugin_verification_failed"),
    ...AUTH_ERRORS,
    ...BODY_ERRORS,
  },
});

const remove = createRoute({
  method: "delete",
  path: "/plugins/{plugin}",
  operationId: "removePlugin",
  tags,
  summary: "Remove this client's installation: config, secrets, state and pending events",
  description: "A plugin on by default runs with its defaults again afterwards; turn it off " +
    'with `PUT {"enabled": false}` instead. Audited.',
  ...manage,
  request: { params: PluginParams },
  responses: { 200: json(Answer, "Removed"), 404: notFoundResponse, ...AUTH_ERRORS },
});

const retry = createRoute({
  method: "post",
  path: "/plugins/{plugin}/retry",
  operationId: "retryParkedPluginEvents",
  tags,
  summary: "Hand the plugin its parked events again, now, with fresh attempts",
  ...manage,
  request: { params: PluginParams },
  responses: {
    202: json(
      z.object({ retried: z.number().int(), delivery_ids: z.array(z.uuid()) }),
      "Queued again; see the plugin's parked events for the outcome",
    ),
    404: notFoundResponse,
    ...AUTH_ERRORS,
  },
});

export function pluginRoutes(host: PluginHost) {
  const who = (c: { get(k: "principal"): { actor: string }; get(k: "requestId"): string }) => ({
    actor: c.get("principal").actor,
    requestId: c.get("requestId"),
  });
  return new OpenAPIHono<AppEnv>()
    .openapi(list, async (c) => {
      return c.json({ data: await listPlugins(host.deps, c.get("principal").clientId) }, 200);
    })
    .openapi(get, async (c) => {
      const clientId = c.get("principal").clientId;
      return c.json(await getPlugin(host.deps, clientId, c.req.valid("param").plugin), 200);
    })
    .openapi(put, async (c) => {
      const p = c.get("principal");
      const answer = await configurePlugin(
        host.deps,
        p.clientId,
        c.req.valid("param").plugin,
        c.req.valid("json"),
        who(c),
      );
      return c.json(answer, 200);
    })
    .openapi(remove, async (c) => {
      const p = c.get("principal");
      return c.json(
        await removePlugin(host.deps, p.clientId, c.req.valid("param").plugin, who(c)),
        200,
      );
    })
    .openapi(retry, async (c) => {
      const p = c.get("principal");
      const ids = await retryParked(host.deps, p.clientId, c.req.valid("param").plugin);
      return c.json({ retried: ids.length, delivery_ids: ids }, 202);
    });
}
