import assert from "node:assert/strict";
import { testStack } from "../_support/stack.ts";
import { dumpEveryTable, newSubject, privacyWorld } from "../_support/privacy.ts";

/**
 * Why message content stays unreadable even to someone who reads every table (Studio's SQL
 * editor runs as postgres; a backup holds every row): it is stored only as ciphertext, and the
 * keys that open it are not in the database. The master keys live in the app's configuration;
 * the data keys are stored wrapped by them. A dump of every table of every schema is searched for
 * a message body and a name that went through the real pipeline, and for the keys themselves.
 */
Deno.test("a dump of every table holds no message body, no profile name and no key that would open them", async () => {
  const world = await privacyWorld({ businesses: 1 });
  try {
    const subject = newSubject();
    await world.writeIn(subject, world.businesses[0], subject.texts[0]);
    await world.writeIn(subject, world.ch, subject.texts[1]);
    const outbound = `Your parcel ${crypto.randomUUID().slice(0, 8)} is on its way`;
    const sent = await world.ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ to: `+${subject.waId}`, type: "text", text: { body: outbound } }),
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await world.ch.idle();

    const dump = await dumpEveryTable();
    const text = dump.map((r) => r.row).join("\n");
    assert.ok(text.includes(subject.waId), "the dump is live: it holds the number (in clear)");
    assert.ok(dump.some((r) => r.table === "public.messages"), "and the messages table");

    const secrets = testStack().secrets;
    const masterKeys = secrets.master_keys.split(",").map((k) => k.split(":")[1]);
    const needles: Record<string, string> = {
      "a received message": subject.texts[0],
      "another received message": subject.texts[1],
      "a sent message": outbound,
      "a profile name": subject.name,
      "the API key pepper": secrets.api_key_pepper,
      "the JWT secret": secrets.jwt_secret,
      "the Meta app secret": secrets.meta_app_secret,
      "the WhatsApp access token": world.ch.accessToken,
      "the API key": world.ch.key,
      ...Object.fromEntries(masterKeys.map((k, i) => [`master key ${i + 1}`, k])),
    };
    const found = Object.entries(needles).flatMap(([what, needle]) =>
      dump.filter((r) => r.row.includes(needle)).map((r) => `${what} in ${r.table}`)
    );
    assert.deepEqual(found, []);
  } finally {
    await world.close();
  }
});
