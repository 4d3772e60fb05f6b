import assert from "node:assert/strict";
import { HELLO_WORLD, startGraphEmulator } from "../../tools/emulators/graph_api.ts";

const WABA = "102290129340398";
const PHONE = "106540352242922";
const TOKEN = "EMU-token";

async function emulator() {
  const emu = await startGraphEmulator({
    appSecret: "unused",
    tokens: { [PHONE]: TOKEN },
    wabaIdFor: () => WABA,
    quiet: true,
    templates: {
      [WABA]: [
        HELLO_WORLD,
        { name: "order_update", components: [{ type: "BODY", text: "Hi {{1}}, order {{2}}." }] },
        {
          name: "photo",
          components: [{ type: "HEADER", format: "IMAGE" }, { type: "BODY", text: "Look." }],
        },
        {
          name: "named",
          parameter_format: "NAMED",
          components: [{ type: "BODY", text: "Hi {{first_name}}." }],
        },
        { name: "paused_one", status: "PAUSED" },
        { name: "disabled_one", status: "DISABLED" },
        { name: "pending_one", status: "PENDING" },
      ],
    },
  });
  const graph = (path: string, init: RequestInit = {}) =>
    fetch(`${emu.url}/v24.0/${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const send = (template: Record<string, unknown>) =>
    graph(`${PHONE}/messages`, {
      method: "POST",
      body: JSON.stringify({
        messaging_product: "whatsapp",
        to: "447700900123",
        type: "template",
        template: { language: { code: "en_US" }, ...template },
      }),
    });
  return { emu, graph, send };
}

const body = (...texts: string[]) => ({
  type: "body",
  parameters: texts.map((text) => ({ type: "text", text })),
});

Deno.test("the emulator answers template sends with Meta's template errors", async () => {
  const { emu, send } = await emulator();
  try {
    const code = async (template: Record<string, unknown>) =>
      (await send(template)).body.error?.code ?? "sent";
    assert.equal(await code({ name: "order_update", components: [body("Ana", "#1")] }), "sent");
    assert.equal(await code({ name: "hello_world" }), "sent");
    assert.equal(await code({ name: "nowhere" }), 132001);
    assert.equal(
      await code({
        name: "order_update",
        language: { code: "pt_BR" },
        components: [body("a", "b")],
      }),
      132001,
    );
    assert.equal(await code({ name: "pending_one" }), 132001);
    assert.equal(await code({ name: "order_update", components: [body("Ana")] }), 132000);
    assert.equal(await code({ name: "paused_one" }), 132015);
    assert.equal(await code({ name: "disabled_one" }), 132016);
    assert.equal(await code({ name: "photo" }), 132012);
    assert.equal(
      await code({
        name: "photo",
        components: [{
          type: "header",
          parameters: [{ type: "image", image: { link: "https://x/y.png" } }],
        }],
      }),
      "sent",
    );
    assert.equal(await code({ name: "named", components: [body("Ana")] }), 100);
    assert.equal(
      await code({
        name: "named",
        components: [{
          type: "body",
          parameters: [{ type: "text", parameter_name: "first_name", text: "Ana" }],
        }],
      }),
      "sent",
    );
    assert.equal(emu.messages().length, 4, "only the sends that fit were accepted");
  } finally {
    await emu.close();
  }
});

Deno.test("the emulator lists a WABA's templates a page at a time with Meta's cursors, creates them pending and deletes them", async () => {
  const { emu, graph } = await emulator();
  try {
    emu.seedTemplates(WABA, Array.from({ length: 60 }, (_, i) => ({ name: `t_${i}` })));
    const names: string[] = [];
    let after = "";
    let pages = 0;
    for (;;) {
      const page = await graph(
        `${WABA}/message_templates?limit=25${after ? `&after=${after}` : ""}`,
      );
      assert.equal(page.status, 200);
      pages++;
      names.push(...page.body.data.map((t: { name: string }) => t.name));
      if (!page.body.paging.next) break;
      after = page.body.paging.cursors.after;
    }
    assert.equal(pages, 3);
    assert.equal(names.length, 67);
    assert.equal(new Set(names).size, 67, "no template twice");
    assert.equal((await graph(`${WABA}/message_templates?after=%%%`)).status, 400);

    const created = await graph(`${WABA}/message_templates`, {
      method: "POST",
      body: JSON.stringify({
        name: "fresh",
        language: "en_US",
        category: "UTILITY",
        components: [{ type: "BODY", text: "Fresh." }],
      }),
    });
    assert.equal(created.body.status, "PENDING");
    const again = await graph(`${WABA}/message_templates`, {
      method: "POST",
      body: JSON.stringify({
        name: "fresh",
        language: "en_US",
        category: "UTILITY",
        components: [{ type: "BODY", text: "Fresh." }],
      }),
    });
    assert.equal(again.status, 400, "one template per name and language");
    const gone = await graph(
      `${WABA}/message_templates?name=fresh&hsm_id=${created.body.id}`,
      { method: "DELETE" },
    );
    assert.deepEqual(gone.body, { success: true });
    assert.ok(!emu.templates(WABA).some((t) => t.name === "fresh"));
    const unauthorised = await fetch(`${emu.url}/v24.0/${WABA}/message_templates`, {
      headers: { authorization: "Bearer wrong" },
    });
    assert.equal(unauthorised.status, 401);
    await unauthorised.body?.cancel();
  } finally {
    await emu.close();
  }
});
