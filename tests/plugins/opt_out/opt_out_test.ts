import assert from "node:assert/strict";
import { eventually } from "../../_support/channel.ts";
import { emulatedChannel } from "../../_support/emulated_channel.ts";
import { envelope, inbound } from "../../_support/meta_fixtures.ts";
import { sql } from "../../_support/stack.ts";
import { orderUpdate } from "../../_support/templates.ts";

type Channel = Awaited<ReturnType<typeof emulatedChannel>>;

// the channel's order_update template with its body parameter: template sends are checked
const template = (to: string) => orderUpdate(to);

/** A contact writes `text`, signed as Meta signs it. */
async function write({ ch }: Channel, from: string, text: string) {
  const res = await ch.postWebhook(
    envelope(ch.wabaId, ch.phoneNumberId, inbound(from, "text", { text: { body: text } })),
  );
  assert.equal(res.status, 200);
}

const consentOf = async (clientId: string, waId: string) =>
  (await sql<{ consent_status: string }>(
    "select consent_status from contacts where client_id = $1 and wa_id = $2",
    [clientId, waId],
  ))[0]?.consent_status;

const textsTo = ({ emulator }: Channel, to: string) =>
  emulator.messages().filter((m) => m.to === to && m.type === "text")
    .map((m) => (m.body.text as { body: string }).body);

Deno.test("a signed inbound STOP opts the contact out at once: the next send is 422 contact_opted_out, the change is audited and confirmed; START allows sending again", async () => {
  const channel = await emulatedChannel();
  const { ch } = channel;
  const contact = "447700900611";
  try {
    await write(channel, contact, "Hi, where is my order?");
    await ch.idle();
    assert.equal(
      (await ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify(template(contact)),
      })).status,
      202,
    );

    await write(channel, contact, "  sToP \n");
    await eventually(
      async () => (await consentOf(ch.clientId, contact)) === "opted_out",
      "the opt-out",
    );
    const refused = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template(contact)),
    });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "contact_opted_out");
    await eventually(
      () => Promise.resolve(textsTo(channel, contact).some((t) => t.includes("unsubscribed"))),
      "the opt-out's confirmation",
    );

    await write(channel, contact, "START");
    await eventually(
      async () => (await consentOf(ch.clientId, contact)) === "opted_in",
      "the opt-in",
    );
    const allowed = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template(contact)),
    });
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body));
    await eventually(
      () => Promise.resolve(textsTo(channel, contact).some((t) => t.includes("subscribed again"))),
      "the opt-in's confirmation",
    );
    assert.equal(
      textsTo(channel, contact).length,
      2,
      "one confirmation each, however often the events were handled",
    );

    const audits = await sql<{ action: string; actor: string; source: string }>(
      `select action, actor, details->>'source' as source from audit_log
        where client_id = $1 and target_type = 'contact' order by id`,
      [ch.clientId],
    );
    assert.deepEqual(audits, [
      { action: "contact.opted_out", actor: "plugin:opt-out", source: "keyword:STOP" },
      { action: "contact.opted_in", actor: "plugin:opt-out", source: "keyword:START" },
    ]);
    const history = await sql<{ status: string; actor: string }>(
      "select status, actor from consent_events where client_id = $1 order by id",
      [ch.clientId],
    );
    assert.deepEqual(history, [
      { status: "opted_out", actor: "plugin:opt-out" },
      { status: "opted_in", actor: "plugin:opt-out" },
    ]);
  } finally {
    await ch.close();
  }
});

Deno.test("keywords in Spanish, Portuguese, Hindi and Tamil opt out too, and a keyword inside a sentence does not", async () => {
  const channel = await emulatedChannel();
  const { ch } = channel;
  const cases: Array<[string, string, string]> = [
    ["447700900621", "Baja", "opted_out"],
    ["447700900622", "sair.", "opted_out"],
    ["447700900623", "बंद करो", "opted_out"],
    ["447700900624", "நிறுத்து", "opted_out"],
    ["447700900625", "Please don't stop sending me offers", "unknown"],
    ["447700900626", "cancel", "unknown"],
  ];
  try {
    for (const [from, text] of cases) await write(channel, from, text);
    await ch.idle();
    await eventually(async () => {
      for (const [from, , want] of cases) {
        if ((await consentOf(ch.clientId, from)) !== want) return false;
      }
      return true;
    }, "each contact's consent");
    // the Spanish keyword is confirmed in Spanish, the Hindi one in English
    await eventually(
      () =>
        Promise.resolve(
          textsTo(channel, "447700900621").some((t) => t.includes("Te has dado de baja")) &&
            textsTo(channel, "447700900623").some((t) => t.includes("unsubscribed")),
        ),
      "the confirmations",
    );
    assert.deepEqual(textsTo(channel, "447700900625"), []);
  } finally {
    await ch.close();
  }
});

Deno.test("keyword lists are per client through /v1/plugins/opt-out: a client's own keyword works for it alone, and a client that turns the plugin off keeps its contacts' consent as it is", async () => {
  const a = await emulatedChannel();
  const b = await emulatedChannel();
  try {
    const put = await a.ch.api("/v1/plugins/opt-out", {
      method: "PUT",
      body: JSON.stringify({
        config: { stop_keywords: ["ARRÊT"], stop_confirmation: "Vous êtes désinscrit." },
      }),
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.installation.config.stop_keywords, ["ARRÊT"]);
    const off = await b.ch.api("/v1/plugins/opt-out", {
      method: "PUT",
      body: JSON.stringify({ enabled: false }),
    });
    assert.equal(off.status, 200);
    assert.equal(off.body.installation.enabled, false);

    await write(a, "447700900631", "arrêt");
    await write(b, "447700900632", "arrêt");
    await write(b, "447700900633", "STOP");
    await eventually(
      async () => (await consentOf(a.ch.clientId, "447700900631")) === "opted_out",
      "A's own keyword",
    );
    await eventually(
      () => Promise.resolve(textsTo(a, "447700900631").includes("Vous êtes désinscrit.")),
      "A's own confirmation",
    );
    await a.ch.idle();
    await b.ch.idle();
    assert.equal(await consentOf(b.ch.clientId, "447700900632"), "unknown");
    assert.equal(await consentOf(b.ch.clientId, "447700900633"), "unknown", "B turned it off");
  } finally {
    await a.ch.close();
    await b.ch.close();
  }
});
