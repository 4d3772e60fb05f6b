import assert from "node:assert/strict";
import * as z from "zod";
import { optOut } from "../../../plugins/opt_out/mod.ts";
import { parseEnv } from "../../../src/config/env.ts";
import { composeApp } from "../../../src/compose.ts";
import { definePlugin, type Plugin, pluginProblems } from "../../../src/plugin_api/mod.ts";
import { PluginRegistryError } from "../../../src/services/plugins/registry.ts";
import { testStack } from "../../_support/stack.ts";

const sound = () => ({
  id: "sound-plugin",
  version: "1.0.0",
  name: "Sound",
  config: z.object({ greeting: z.string().default("hi") }),
  on: { "message.received": () => Promise.resolve() },
});

Deno.test("the app refuses to start with a malformed plugin, naming the plugin and every problem", async () => {
  const bad = {
    ...sound(),
    id: "Bad_Id",
    version: "one",
    enabledByDefault: true,
    config: z.object({ required: z.string() }),
    on: { "message.sent": () => Promise.resolve(), "message.status": "not a handler" },
    onn: {},
  } as unknown as Plugin;
  const env = parseEnv({ ...testStack().appEnv, LOG_LEVEL: "error" });
  const error = await composeApp(env, {
    doorbell: () => ({ ring: () => Promise.resolve() }),
    plugins: [optOut, bad, definePlugin({ ...sound(), id: "opt-out" })],
  }).then(() => null, (e) => e);
  assert.ok(error instanceof PluginRegistryError, String(error));
  const problems = (error as PluginRegistryError).problems;
  for (
    const expected of [
      "plugin Bad_Id: has an unknown field onn",
      "plugin Bad_Id: id must be kebab-case, 2 to 63 characters (a-z, 0-9, single hyphens)",
      "plugin Bad_Id: version must be semver",
      "plugin Bad_Id: config must accept {} (every field optional or defaulted): the plugin is on by default",
      "plugin Bad_Id: on: message.sent is not an event type (message.received, message.status, contact.consent_changed, account.alert)",
      "plugin Bad_Id: on: message.status must be a handler, or {filter?, handle}",
      "plugin opt-out: registered twice",
    ]
  ) assert.ok(problems.includes(expected), `${expected}\nin: ${problems.join("\n")}`);
  assert.match(error.message, /^Invalid plugins: /);
});

Deno.test("a plugin's declared deployment setting must be set at start-up", async () => {
  const env = parseEnv({ ...testStack().appEnv, LOG_LEVEL: "error" });
  const needsEnv = definePlugin({ ...sound(), env: ["SOUND_PLUGIN_SECRET"] });
  const error = await composeApp(env, {
    doorbell: () => ({ ring: () => Promise.resolve() }),
    plugins: [needsEnv],
    pluginEnv: {},
  }).then(() => null, (e) => e);
  assert.ok(error instanceof PluginRegistryError);
  assert.deepEqual(error.problems, ["plugin sound-plugin: env SOUND_PLUGIN_SECRET is not set"]);
});

Deno.test("pluginProblems() checks capabilities: webhooks need a routing key, privacy needs both halves, ids the core uses are reserved", () => {
  const base = sound();
  assert.deepEqual(pluginProblems(base), []);
  assert.deepEqual(
    pluginProblems({
      ...base,
      webhooks: {
        verify: () => Promise.resolve({ valid: false, reason: "x" }),
        handle: () => Promise.resolve(),
      },
    }),
    ["webhooks need routingKey: a webhook finds its installation by it"],
  );
  assert.deepEqual(pluginProblems({ ...base, privacy: { export: () => Promise.resolve({}) } }), [
    "privacy must have both export() and erase()",
  ]);
  assert.deepEqual(pluginProblems({ ...base, id: "meta" }), ["id meta is reserved for the core"]);
  assert.deepEqual(pluginProblems({ ...base, secrets: ["greeting"] }), [
    "secret greeting is also a config field",
  ]);
  assert.deepEqual(pluginProblems({ ...base, timeoutMs: 120_000 }), [
    "timeoutMs must be an integer from 100 to 60000",
  ]);
  assert.deepEqual(
    pluginProblems({
      ...base,
      enabledByDefault: true,
      schedule: { everyMinutes: 60, run: () => Promise.resolve() },
    }),
    ["schedule runs for the clients that installed the plugin: not with enabledByDefault"],
  );
});
