import assert from "node:assert/strict";
import { join } from "node:path";
import * as zod from "zod";
import * as workersZod from "../../tools/workers/zod.js";
import { ROOT } from "../../tools/stack/mod.ts";

Deno.test("the Worker's zod exports everything zod does but its locales and core", () => {
  const expected = Object.keys(zod).filter((name) => name !== "locales" && name !== "core");
  const missing = expected.filter((name) => !(name in workersZod));
  const extra = Object.keys(workersZod).filter((name) => !expected.includes(name));
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    "tools/workers/zod.js must re-export zod's exports (after a zod upgrade, add the new ones)",
  );
});

Deno.test("wrangler bundles tools/workers/zod.js wherever the Worker imports zod", async () => {
  const toml = await Deno.readTextFile(join(ROOT, "wrangler.toml"));
  const alias = /^\[alias\]\s*\n"zod"\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  assert.equal(alias, "./tools/workers/zod.js");
});
