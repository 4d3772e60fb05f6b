import assert from "node:assert/strict";
import { startChannel } from "../_support/channel.ts";
import { ORDER_UPDATE } from "../_support/templates.ts";

Deno.test("the catalog a plugin will be handed lists one client's templates and checks a send as the pipeline does", async () => {
  const ch = await startChannel({
    templates: [ORDER_UPDATE, { name: "cod_confirmation", language: "hi", status: "PENDING" }],
  });
  const other = await startChannel();
  try {
    const catalog = ch.app.deps.services.templates.catalogFor(ch.clientId);
    const all = await catalog.list();
    assert.deepEqual(all.map((t) => `${t.name}/${t.language}/${t.status}`), [
      "cod_confirmation/hi/PENDING",
      "order_update/en_US/APPROVED",
    ]);
    assert.deepEqual((await catalog.list({ status: "APPROVED" })).map((t) => t.name), [
      "order_update",
    ]);
    const page = await catalog.list({ limit: 1, after: all[0] });
    assert.deepEqual(page.map((t) => t.name), ["order_update"]);
    await assert.rejects(
      catalog.list({ after: { name: "x,id.gt.0)", language: "en", id: all[0].id } }),
      /not a template of this list/,
    );
    const theirs = other.app.deps.services.templates.catalogFor(other.clientId);
    assert.deepEqual((await theirs.list()).map((t) => t.name), ["order_update"]);
    assert.ok(!(await theirs.list()).some((t) => t.id === all[1].id), "only its own client's");

    const ok = await catalog.check({
      template: {
        name: "order_update",
        language: { code: "en_US" },
        components: [{ type: "body", parameters: [{ type: "text", text: "Ana" }] }],
      },
    });
    assert.deepEqual(ok, { ok: true });
    const pending = await catalog.check({
      template: { name: "cod_confirmation", language: { code: "hi" } },
    });
    assert.ok(!pending.ok && pending.code === "template_not_approved");
  } finally {
    await ch.close();
    await other.close();
  }
});
