import assert from "node:assert/strict";
import { encryptField } from "../../src/core/crypto/envelope.ts";
import { clientWithKey, type Json } from "../_support/app.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { emulatedChannel, type Emulator } from "../_support/emulated_channel.ts";
import { sql } from "../_support/stack.ts";
import { orderUpdate } from "../_support/templates.ts";
import { webhookReceiver } from "../_support/webhook_receiver.ts";

type Channel = Awaited<ReturnType<typeof startChannel>>;

const receiver = webhookReceiver;

async function subscribe(ch: Channel, url: string, types: string[]) {
  const res = await ch.api("/v1/webhook-endpoints", {
    method: "POST",
    body: JSON.stringify({ url, event_types: types }),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.secret as string;
}

const SHIPPING = {
  name: "shipping_update",
  language: "en_US",
  category: "UTILITY",
  components: [
    {
      type: "BODY",
      text: "Hi {{1}}, your parcel {{2}} is on its way.",
      example: { body_text: [["Ana", "#1001"]] },
    },
    { type: "FOOTER", text: "Reply STOP to opt out" },
  ],
};

const shippingSend = (to: string, params: string[], language = "en_US") => ({
  to,
  type: "template",
  template: {
    name: "shipping_update",
    language: { code: language },
    components: [{
      type: "body",
      parameters: params.map((text) => ({ type: "text", text })),
    }],
  },
});

/** Graph send calls the emulator got for `to` (a refused send must make none). */
const sendsTo = (emulator: Emulator, to: string) =>
  emulator.messages().filter((m) => m.to === to).length;

const statusOf = async (ch: Channel, id: string) =>
  (await ch.api(`/v1/templates/${id}`)).body.template?.status;

Deno.test("a template created through /v1/templates is pending, approved by Meta's webhook, announced to the client, and then sends; wrong parameters, an unknown language and a pause are refused before any Graph send", async () => {
  const { ch, emulator } = await emulatedChannel({}, { templateReviewMs: 300 }, { templates: [] });
  const rx = receiver();
  try {
    const secret = await subscribe(ch, rx.url, ["template.status"]);
    const created = await ch.api("/v1/templates", {
      method: "POST",
      body: JSON.stringify(SHIPPING),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.template.id;
    assert.equal(created.body.template.status, "PENDING");
    assert.equal(created.body.template.waba_id, ch.wabaId);
    const atMeta = emulator.templates(ch.wabaId);
    assert.equal(atMeta.length, 1);
    assert.equal(created.body.template.meta_template_id, atMeta[0].id);

    await eventually(async () => (await statusOf(ch, id)) === "APPROVED", "Meta's approval");
    const approved = await eventually(
      () => Promise.resolve(rx.events(secret).find((e) => e.data.status === "APPROVED")),
      "the template.status event at the client's endpoint",
    );
    assert.equal(approved.type, "template.status");
    assert.deepEqual(
      {
        id: approved.data.id,
        name: approved.data.name,
        language: approved.data.language,
        previous: approved.data.previous_status,
        waba: approved.data.waba_id,
      },
      { id, name: "shipping_update", language: "en_US", previous: "PENDING", waba: ch.wabaId },
    );

    const ok = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(shippingSend("447700901001", ["Ana", "#1001"])),
    });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await eventually(
      async () =>
        (await ch.api(`/v1/messages/${ok.body.message.id}`)).body.message.status === "delivered",
      "the template message to be delivered",
    );

    const missing = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(shippingSend("447700901002", ["Ana"])),
    });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.error.code, "template_parameters_mismatch");
    assert.match(missing.body.error.message, /body takes 2 parameters .*1 given/);
    assert.equal(missing.body.error.details.problems[0].path, "template.components.0.parameters");

    const language = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(shippingSend("447700901003", ["Ana", "#1"], "pt_BR")),
    });
    assert.equal(language.status, 422);
    assert.equal(language.body.error.code, "template_not_found");
    assert.deepEqual(language.body.error.details.languages, ["en_US"]);

    await emulator.changeTemplate(ch.wabaId, "shipping_update", "en_US", { status: "PAUSED" });
    await eventually(async () => (await statusOf(ch, id)) === "PAUSED", "the pause webhook");
    const paused = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(shippingSend("447700901004", ["Ana", "#1"])),
    });
    assert.equal(paused.status, 422);
    assert.equal(paused.body.error.code, "template_paused");

    await emulator.changeTemplate(ch.wabaId, "shipping_update", "en_US", { status: "APPROVED" });
    await eventually(async () => (await statusOf(ch, id)) === "APPROVED", "the approval again");
    const again = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(shippingSend("447700901004", ["Ana", "#1"])),
    });
    assert.equal(again.status, 202, JSON.stringify(again.body));

    for (const to of ["447700901002", "447700901003"]) {
      assert.equal(sendsTo(emulator, to), 0, `no Graph send for the refused send to ${to}`);
    }
    await eventually(
      () => Promise.resolve(sendsTo(emulator, "447700901004") === 1),
      "the send after the pause ended",
    );
    // each change is a delivery of its own, which may still be on its way (and deliveries are
    // not ordered)
    await eventually(() => Promise.resolve(rx.events(secret).length >= 3), "three status events");
    const statuses = rx.events(secret).map((e) => e.data.status);
    assert.deepEqual(statuses.sort(), ["APPROVED", "APPROVED", "PAUSED"]);
  } finally {
    await ch.close();
    await rx.close();
  }
});

Deno.test("a template Meta rejects is stored rejected with its reason, and a send of it is refused as not approved", async () => {
  const { ch, emulator } = await emulatedChannel({}, { templateReviewMs: 100 }, { templates: [] });
  try {
    const created = await ch.api("/v1/templates", {
      method: "POST",
      body: JSON.stringify({ ...SHIPPING, name: "reject_me" }),
    });
    assert.equal(created.status, 201);
    const id = created.body.template.id;
    await eventually(async () => (await statusOf(ch, id)) === "REJECTED", "the rejection");
    const got = await ch.api(`/v1/templates/${id}`);
    assert.equal(got.body.template.rejected_reason, "INVALID_FORMAT");
    const body = shippingSend("447700901010", ["a", "b"]);
    body.template.name = "reject_me";
    const send = await ch.api("/v1/messages", { method: "POST", body: JSON.stringify(body) });
    assert.equal(send.status, 422);
    assert.equal(send.body.error.code, "template_not_approved");
    assert.match(send.body.error.message, /rejected.*INVALID_FORMAT/);
    assert.equal(sendsTo(emulator, "447700901010"), 0);
  } finally {
    await ch.close();
  }
});

Deno.test("a new template that breaks Meta's rules is refused with each rule named, and Meta is never called", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, { templates: [] });
  try {
    const post = (body: unknown) =>
      ch.api("/v1/templates", { method: "POST", body: JSON.stringify(body) });
    const startsWith = await post({
      ...SHIPPING,
      components: [{
        type: "BODY",
        text: "{{1}}, your parcel {{3}} is on its way.",
        example: { body_text: [["Ana", "#1"]] },
      }],
    });
    assert.equal(startsWith.status, 400);
    assert.equal(startsWith.body.error.code, "invalid_request");
    const details = startsWith.body.error.details as Array<{ path: string; message: string }>;
    assert.ok(
      details.some((d) => d.path === "components.0.text" && /start or end/.test(d.message)),
    );
    assert.ok(details.some((d) => /without gaps/.test(d.message)));

    for (
      const bad of [
        { ...SHIPPING, name: "Shipping Update" },
        { ...SHIPPING, language: "english" },
        { ...SHIPPING, category: "PROMOTIONAL" },
        { ...SHIPPING, components: [{ type: "BODY", text: "Hi there", script: "<x>" }] },
        { ...SHIPPING, components: [{ type: "BODY", text: "Hi \u0000 there" }] },
        { ...SHIPPING, components: [] },
        { ...SHIPPING, components: [{ type: "FOOTER", text: "x" }] },
      ]
    ) {
      const res = await post(bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.body.error.code, "invalid_request");
    }
    assert.deepEqual(emulator.templateCalls(), [], "nothing reached Meta");

    assert.equal((await post(SHIPPING)).status, 201);
    const twice = await post(SHIPPING);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error.code, "template_exists");
    assert.equal(emulator.templateCalls().filter((c) => c.method === "POST").length, 1);
  } finally {
    await ch.close();
  }
});

Deno.test("templates list by name and language with filters and signed cursors; one reads by id; deleting removes it at Meta and here, audited", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, {
    templates: [
      { name: "b_alert", language: "en_US", category: "UTILITY" },
      { name: "a_promo", language: "pt_BR", category: "MARKETING" },
      { name: "a_promo", language: "en_US", category: "MARKETING", status: "PAUSED" },
      { name: "c_code", language: "en", category: "AUTHENTICATION", status: "REJECTED" },
      { name: "d_last", language: "es", category: "UTILITY" },
    ],
  });
  const other = await startChannel();
  try {
    const all: Json[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await ch.api(
        `/v1/templates?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.data.length <= 2);
      all.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(all.map((t) => `${t.name}/${t.language}`), [
      "a_promo/en_US",
      "a_promo/pt_BR",
      "b_alert/en_US",
      "c_code/en",
      "d_last/es",
    ]);
    const names = async (query: string) =>
      (await ch.api(`/v1/templates?${query}`)).body.data.map((t: Json) =>
        `${t.name}/${t.language}`
      );
    assert.deepEqual(await names("status=PAUSED"), ["a_promo/en_US"]);
    assert.deepEqual(await names("category=MARKETING&language=pt_BR"), ["a_promo/pt_BR"]);
    assert.deepEqual(await names("name=c_code"), ["c_code/en"]);
    assert.deepEqual(await names(`waba_id=${other.wabaId}`), []);

    const firstPage = await ch.api("/v1/templates?limit=1");
    const theirs = await other.api(
      `/v1/templates?cursor=${encodeURIComponent(firstPage.body.next_cursor)}`,
    );
    assert.equal(theirs.status, 400);
    assert.equal(theirs.body.error.code, "invalid_cursor");
    for (
      const q of [
        "status=approved",
        "language=en%00",
        "name=Bad",
        "limit=0",
        "waba_id=12ab",
        "cursor=abc",
      ]
    ) {
      const res = await ch.api(`/v1/templates?${q}`);
      assert.equal(res.status, 400, q);
    }

    const one = all.find((t) => t.name === "b_alert");
    const got = await ch.api(`/v1/templates/${one.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.template.components, [{ type: "BODY", text: "Message b_alert" }]);
    assert.equal((await other.api(`/v1/templates/${one.id}`)).status, 404, "not another client's");
    assert.equal((await ch.api("/v1/templates/not-a-uuid")).status, 400);

    assert.equal((await other.api(`/v1/templates/${one.id}`, { method: "DELETE" })).status, 404);
    const deleted = await ch.api(`/v1/templates/${one.id}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal((await ch.api(`/v1/templates/${one.id}`)).status, 404);
    assert.ok(!emulator.templates(ch.wabaId).some((t) => t.name === "b_alert"));
    const audit = await sql<{ action: string }>(
      "select action from audit_log where client_id = $1 and target_id = $2",
      [ch.clientId, one.id],
    );
    assert.deepEqual(audit.map((a) => a.action), ["template.deleted"]);
  } finally {
    await ch.close();
    await other.close();
  }
});

Deno.test("template routes need templates:read to read and templates:manage to change; older keys do not hold them", async () => {
  const ch = await startChannel();
  try {
    const as = async (scopes: Parameters<typeof clientWithKey>[0] & object) => {
      const { key } = await clientWithKey(scopes);
      return (path: string, init: RequestInit = {}) =>
        fetch(`${ch.appUrl}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
    };
    const sender = await as({ scopes: ["messages:send", "messages:read"] });
    const listed = await sender("/v1/templates");
    assert.equal(listed.status, 403);
    assert.match(listed.body.error.message, /templates:read/);
    const reader = await as({ scopes: ["templates:read"] });
    assert.equal((await reader("/v1/templates")).status, 200);
    const create = await reader("/v1/templates", {
      method: "POST",
      body: JSON.stringify(SHIPPING),
    });
    assert.equal(create.status, 403);
    assert.match(create.body.error.message, /templates:manage/);
    assert.equal((await reader("/v1/templates/sync", { method: "POST" })).status, 403);

    // a key created before the template scopes existed holds the scopes it was given, no more
    const [old] = await sql<{ id: string }>(
      "select id from api_keys where client_id = $1",
      [ch.clientId],
    );
    await sql(
      "update api_keys set scopes = array_remove(array_remove(scopes, 'templates:read'), 'templates:manage') where id = $1",
      [old.id],
    );
    assert.equal((await ch.api("/v1/templates")).status, 403);
    const me = await ch.api("/v1/me");
    assert.ok(!me.body.credential.scopes.includes("templates:read"));
  } finally {
    await ch.close();
  }
});

Deno.test("a send of a template the store lacks is refused after one sync, and refusals within the interval call Meta no more; one Meta has is found by that sync and sent", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, { templates: [] });
  try {
    const send = (name: string, to: string) =>
      ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify({
          to,
          type: "template",
          template: { name, language: { code: "en_US" } },
        }),
      });
    // the store was synced a moment ago (the channel's seed): no sync within the interval
    const first = await send("nowhere", "447700901020");
    assert.equal(first.status, 422);
    assert.equal(first.body.error.code, "template_not_found");
    assert.equal(emulator.templateCalls().length, 0, "synced moments ago: Meta is not asked");

    await sql(
      "update message_template_syncs set last_attempt_at = now() - interval '1 hour' where client_id = $1",
      [ch.clientId],
    );
    emulator.seedTemplates(ch.wabaId, [{
      name: "made_at_meta",
      components: [
        { type: "BODY", text: "Welcome aboard." },
      ],
    }]);
    const refused = await send("nowhere", "447700901021");
    assert.equal(refused.body.error.code, "template_not_found");
    assert.equal(emulator.templateCalls().length, 1, "one listing before the refusal");
    const again = await send("nowhere", "447700901022");
    assert.equal(again.body.error.code, "template_not_found");
    assert.equal(emulator.templateCalls().length, 1, "no second listing within the interval");

    const found = await send("made_at_meta", "447700901023");
    assert.equal(found.status, 202, "the sync stored the template Meta had");
    for (const to of ["447700901020", "447700901021", "447700901022"]) {
      assert.equal(sendsTo(emulator, to), 0);
    }
  } finally {
    await ch.close();
  }
});

Deno.test("quality, category and unknown-template webhooks update the store; a quality change reaches the client as template.quality", async () => {
  const { ch, emulator } = await emulatedChannel({}, {}, {
    templates: [{ name: "order_update", components: [{ type: "BODY", text: "Hi {{1}}." }] }],
  });
  const rx = receiver();
  try {
    const secret = await subscribe(ch, rx.url, ["template.quality"]);
    await emulator.changeTemplate(ch.wabaId, "order_update", "en_US", { quality: "RED" });
    const event = await eventually(
      () => Promise.resolve(rx.events(secret).find((e) => e.type === "template.quality")),
      "the template.quality event",
    );
    assert.equal(event.data.quality_score, "RED");
    assert.equal(event.data.previous_quality_score, null);
    const [row] = await sql<{ id: string; quality_score: string }>(
      "select id, quality_score from message_templates where client_id = $1",
      [ch.clientId],
    );
    assert.equal(row.quality_score, "RED");

    const atMeta = emulator.templates(ch.wabaId)[0];
    const change = (field: string, value: Record<string, unknown>) =>
      ch.postWebhook({
        object: "whatsapp_business_account",
        entry: [{ id: ch.wabaId, time: 1, changes: [{ field, value }] }],
      });
    await change("template_category_update", {
      message_template_id: Number(atMeta.id),
      message_template_name: "order_update",
      message_template_language: "en_US",
      previous_category: "UTILITY",
      new_category: "MARKETING",
    });
    await eventually(async () => {
      const [t] = await sql<{ category: string }>(
        "select category from message_templates where id = $1",
        [row.id],
      );
      return t.category === "MARKETING";
    }, "the category change");

    // a template created in WhatsApp Manager: the webhook comes first, the sync fills it in
    emulator.seedTemplates(ch.wabaId, [{
      name: "from_manager",
      language: "es",
      components: [{ type: "BODY", text: "Hola {{1}}." }],
    }]);
    const fromManager = emulator.templates(ch.wabaId).find((t) => t.name === "from_manager")!;
    await sql(
      "update message_template_syncs set last_attempt_at = now() - interval '1 hour' where client_id = $1",
      [ch.clientId],
    );
    await change("message_template_status_update", {
      event: "APPROVED",
      message_template_id: Number(fromManager.id),
      message_template_name: "from_manager",
      message_template_language: "es",
      reason: "NONE",
      message_template_category: "UTILITY",
    });
    const synced = await eventually(async () => {
      const [t] = await sql<{ status: string; components: unknown }>(
        "select status, components from message_templates where client_id = $1 and name = 'from_manager'",
        [ch.clientId],
      );
      return t?.components ? t : null;
    }, "the sync the unknown template asked for");
    assert.equal(synced.status, "APPROVED");
    assert.deepEqual(synced.components, [{ type: "BODY", text: "Hola {{1}}." }]);
    const state = await eventually(async () => {
      const [s] = await sql<{ last_error: string | null; requested_at: string | null }>(
        "select last_error, requested_at, locked_until from message_template_syncs where client_id = $1 and locked_until is null",
        [ch.clientId],
      );
      return s;
    }, "the sync to finish");
    assert.deepEqual(state, { last_error: null, requested_at: null, locked_until: null });
    const events = await ch.api("/v1/account-events?field=message_template_status_update");
    assert.equal(events.body.data.length, 1, "the raw event is still kept");
  } finally {
    await ch.close();
    await rx.close();
  }
});

Deno.test("the template routes are in the OpenAPI document with operation ids, tags, scopes' errors and their own", async () => {
  const ch = await startChannel();
  try {
    const doc = (await ch.api("/openapi.json")).body;
    const ops = [
      ["get", "/v1/templates", "listTemplates", [200, 400, 401, 403]],
      ["get", "/v1/templates/{id}", "getTemplate", [200, 404]],
      ["post", "/v1/templates", "createTemplate", [201, 409, 422, 502]],
      ["delete", "/v1/templates/{id}", "deleteTemplate", [200, 404, 502]],
      ["post", "/v1/templates/sync", "syncTemplates", [200, 422]],
    ] as const;
    for (const [method, path, operationId, statuses] of ops) {
      const op = doc.paths[path]?.[method];
      assert.equal(op?.operationId, operationId, `${method} ${path}`);
      assert.deepEqual(op.tags, ["Templates"]);
      for (const s of statuses) assert.ok(op.responses[s], `${operationId} documents ${s}`);
    }
    assert.ok(doc.components.schemas.Template && doc.components.schemas.NewTemplate);
  } finally {
    await ch.close();
  }
});

Deno.test("a send Meta refuses for its template although the store had it approved fails with Meta's code, and the store catches up", async () => {
  const { ch, emulator } = await emulatedChannel();
  try {
    // paused at Meta with no webhook (one lost, say): the store still says approved
    emulator.seedTemplates(ch.wabaId, [{
      ...emulator.templates(ch.wabaId)[0],
      quality_score: "RED",
      status: "PAUSED",
    }]);
    await sql(
      "update message_template_syncs set last_attempt_at = now() - interval '1 hour' where client_id = $1",
      [ch.clientId],
    );
    const sent = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(orderUpdate("447700901030")),
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const failed = await eventually(async () => {
      const m = (await ch.api(`/v1/messages/${sent.body.message.id}`)).body.message;
      return m.status === "failed" ? m : null;
    }, "Meta's refusal");
    assert.equal(failed.error.code, 132015);
    const [template] = (await ch.api("/v1/templates")).body.data;
    await eventually(
      async () => (await statusOf(ch, template.id)) === "PAUSED",
      "the sync Meta's template error asks for",
    );
    const next = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(orderUpdate("447700901031")),
    });
    assert.equal(next.status, 422);
    assert.equal(next.body.error.code, "template_paused");
  } finally {
    await ch.close();
  }
});

Deno.test("a send repeated with its Idempotency-Key returns the message it created after its template was paused or deleted, and never sends twice; a new key is refused", async () => {
  const { ch, emulator } = await emulatedChannel();
  try {
    const send = (key: string, to: string, name = "Ana") =>
      ch.api("/v1/messages", {
        method: "POST",
        headers: { "idempotency-key": key },
        body: JSON.stringify(orderUpdate(to, name)),
      });
    const [template] = (await ch.api("/v1/templates?name=order_update")).body.data;

    const atMeta = (to: string) =>
      eventually(() => Promise.resolve(sendsTo(emulator, to) === 1), `the send to ${to} at Meta`);
    const first = await send("before-the-pause", "447700901101");
    assert.equal(first.status, 202, JSON.stringify(first.body));
    await atMeta("447700901101");
    await emulator.changeTemplate(ch.wabaId, "order_update", "en_US", { status: "PAUSED" });
    await eventually(async () => (await statusOf(ch, template.id)) === "PAUSED", "the pause");
    const repeated = await send("before-the-pause", "447700901101");
    assert.equal(repeated.status, 202, JSON.stringify(repeated.body));
    assert.equal(repeated.body.message.id, first.body.message.id);
    // the key still guards its body, and a new send of the paused template is still refused
    const otherBody = await send("before-the-pause", "447700901101", "Bea");
    assert.equal(otherBody.status, 409, JSON.stringify(otherBody.body));
    assert.equal(otherBody.body.error.code, "idempotency_key_reused");
    const fresh = await send("after-the-pause", "447700901102");
    assert.equal(fresh.status, 422);
    assert.equal(fresh.body.error.code, "template_paused");

    await emulator.changeTemplate(ch.wabaId, "order_update", "en_US", { status: "APPROVED" });
    await eventually(async () => (await statusOf(ch, template.id)) === "APPROVED", "approval");
    const beforeDelete = await send("before-the-delete", "447700901103");
    assert.equal(beforeDelete.status, 202, JSON.stringify(beforeDelete.body));
    await atMeta("447700901103");
    const deleted = await ch.api(`/v1/templates/${template.id}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    const afterDelete = await send("before-the-delete", "447700901103");
    assert.equal(afterDelete.status, 202, JSON.stringify(afterDelete.body));
    assert.equal(afterDelete.body.message.id, beforeDelete.body.message.id);
    const unknown = await send("after-the-delete", "447700901104");
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.error.code, "template_not_found");

    assert.equal(sendsTo(emulator, "447700901101"), 1, "the repeats sent nothing");
    assert.equal(sendsTo(emulator, "447700901103"), 1, "the repeat sent nothing");
    assert.equal(sendsTo(emulator, "447700901102") + sendsTo(emulator, "447700901104"), 0);
  } finally {
    await ch.close();
  }
});

Deno.test("an access token that does not open is no token: creating or deleting a template answers 422 no_access_token, a sync records it, and Meta is never called", async () => {
  const { ch, emulator } = await emulatedChannel({ TEMPLATE_SYNC_MIN_INTERVAL_SECONDS: "0" });
  try {
    const [{ id }] = await sql<{ id: string }>(
      "select id from message_templates where client_id = $1",
      [ch.clientId],
    );
    // sealed for another account: it does not open for this one
    const dek = await ch.app.deps.services.dataKeys.forClient(ch.clientId);
    await sql("update whatsapp_business_accounts set access_token_ciphertext = $1 where id = $2", [
      await encryptField(dek, "EMU-token", "wa_token:another-waba"),
      ch.wabaAccountId,
    ]);
    const created = await ch.api("/v1/templates", {
      method: "POST",
      body: JSON.stringify({
        name: "never_sent",
        language: "en_US",
        category: "UTILITY",
        components: [{ type: "BODY", text: "Hello." }],
      }),
    });
    assert.equal(created.status, 422, JSON.stringify(created.body));
    assert.equal(created.body.error.code, "no_access_token");
    const deleted = await ch.api(`/v1/templates/${id}`, { method: "DELETE" });
    assert.equal(deleted.status, 422, JSON.stringify(deleted.body));
    assert.equal(deleted.body.error.code, "no_access_token");
    const [report] = (await ch.api("/v1/templates/sync", { method: "POST" })).body.data;
    assert.equal(report.error, "The WhatsApp Business account has no access token configured");
    assert.deepEqual(emulator.templateCalls(), []);
  } finally {
    await ch.close();
  }
});
