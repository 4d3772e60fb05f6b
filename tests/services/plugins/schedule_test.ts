import assert from "node:assert/strict";
import * as z from "zod";
import { localDoorbell } from "../../../src/adapters/deno/local_doorbell.ts";
import { jsonLogger } from "../../../src/adapters/logging/json_logger.ts";
import { definePlugin } from "../../../src/plugin_api/mod.ts";
import { bearer, clientWithKey } from "../../_support/app.ts";
import { sql, testApp } from "../../_support/stack.ts";

const ticking = definePlugin({
  id: "ticking",
  version: "1.0.0",
  name: "Ticking",
  config: z.object({}),
  schedule: {
    everyMinutes: 60,
    async run(ctx) {
      await ctx.state.set("runs", ((await ctx.state.get<number>("runs")) ?? 0) + 1);
    },
  },
});

Deno.test("a scheduled plugin runs once per period for each client that installed it, through a recorded delivery", async () => {
  const installed = await clientWithKey();
  const other = await clientWithKey();
  // the sweep rings whatever is due in the shared database: other tests' work (retries due in
  // minutes or hours) is left to their own sweeps, and only this test's plugin jobs run here
  const ours = new Set([installed.clientId, other.clientId]);
  let bell: ReturnType<typeof localDoorbell> | undefined;
  const composed = await testApp({}, {
    plugins: [ticking],
    doorbell: (handle) => {
      bell = localDoorbell({ handle, logger: jsonLogger({ level: "error", write: () => {} }) });
      return {
        ring: (jobs, options) =>
          bell!.ring(
            jobs.filter((j) => j.kind === "plugin_event" && ours.has(j.clientId)),
            options,
          ),
      };
    },
  });
  const put = await composed.app.request("/v1/plugins/ticking", {
    method: "PUT",
    headers: { ...bearer(installed.key), "content-type": "application/json" },
    body: JSON.stringify({}),
  }, { remoteAddr: "198.51.100.7" });
  assert.equal(put.status, 200, await put.text());

  await composed.sweep();
  await bell!.idle();
  await composed.sweep();
  await bell!.idle();
  bell!.close();

  const runs = await sql<{ client_id: string; value: number }>(
    "select client_id, value from plugin_state where plugin_id = 'ticking' and client_id = any($1)",
    [[installed.clientId, other.clientId]],
  );
  assert.deepEqual(runs, [{ client_id: installed.clientId, value: 1 }]);
  const [delivery] = await sql<{ event_type: string; status: string }>(
    "select event_type, status from plugin_deliveries where client_id = $1",
    [installed.clientId],
  );
  assert.deepEqual(delivery, { event_type: "schedule", status: "succeeded" });
});
