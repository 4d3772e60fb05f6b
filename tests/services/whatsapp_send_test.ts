import assert from "node:assert/strict";
import { encryptField } from "../../src/core/crypto/envelope.ts";
import type { Job } from "../../src/ports/jobs.ts";
import { eventually, startChannel } from "../_support/channel.ts";
import { emulatedChannel } from "../_support/emulated_channel.ts";
import { envelope, inbound } from "../_support/meta_fixtures.ts";
import { clientWithToken, signJwt, sql } from "../_support/stack.ts";
import { orderUpdate } from "../_support/templates.ts";

const template = orderUpdate;

Deno.test("a sent message reaches the emulator once, carries our id, and its status webhooks advance it to delivered", async () => {
  const { ch, emulator } = await emulatedChannel();
  try {
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900501")),
    });
    assert.equal(res.status, 202);
    const id = res.body.message.id;
    const done = await eventually(async () => {
      const m = await ch.api(`/v1/messages/${id}`);
      return m.body.message.status === "delivered" ? m.body : null;
    }, "the message to be delivered");
    assert.match(done.message.wamid, /^wamid\./);
    assert.deepEqual(done.timeline.map((t: { status: string }) => t.status), ["sent", "delivered"]);
    const received = emulator.messages().filter((m) => m.to === "447700900501");
    assert.equal(received.length, 1);
    assert.equal(received[0].bizOpaqueCallbackData, id);
    // the content as the client sent it, whether the job decrypted it or was handed it
    assert.deepEqual(received[0].body.template, template("447700900501").template);
  } finally {
    await ch.close();
  }
});

Deno.test("a message claimed by its enqueue whose send job is lost is sent by the sweeper once the lease runs out, once", async () => {
  // the consumer dies after the enqueue rang it: the job, and the claim it carried, are lost
  let consumerDown = true;
  const lost: Job[] = [];
  const { ch, emulator } = await emulatedChannel({}, {}, {
    doorbell: (handle) => ({
      ring: (jobs) =>
        consumerDown ? (lost.push(...jobs), Promise.resolve()) : handle(jobs).then(() => {}),
    }),
  });
  const to = "447700900577";
  try {
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template(to)),
    });
    assert.equal(res.status, 202);
    const id = res.body.message.id;
    assert.equal(res.body.message.status, "sending");
    assert.ok(lost.some((j) => j.kind === "send" && j.messageId === id && j.claimed));

    // restarted: while the lease holds, the sweeper leaves the message to its (dead) holder
    consumerDown = false;
    await ch.app.sweep();
    assert.equal(emulator.messages().filter((m) => m.to === to).length, 0);
    // the lease runs out (moved into the past rather than waited for): the sweeper sends it
    await sql("update messages set locked_until = now() - interval '1 second' where id = $1", [id]);
    await ch.app.sweep();
    await eventually(async () => {
      const m = await ch.api(`/v1/messages/${id}`);
      return m.body.message.status === "delivered" ? m.body : null;
    }, "the swept message to be delivered");
    assert.equal(emulator.messages().filter((m) => m.to === to).length, 1);
  } finally {
    await ch.close();
  }
});

Deno.test("with 20% of Graph calls faulted, every accepted message ends sent or failed with a reason, and no recipient gets one twice", async () => {
  const { ch, emulator } = await emulatedChannel(
    {
      SEND_BACKOFF_BASE_MS: "50",
      SEND_AMBIGUOUS_WAIT_MS: "1200",
      GRAPH_API_TIMEOUT_MS: "500",
      SEND_MAX_ATTEMPTS: "12",
    },
  );
  try {
    emulator.setFaults({
      rate: 0.2,
      kinds: ["rate_limit", "server_error", "slow", "drop_after_accept"],
      slowMs: 800,
      seed: 1234,
    });
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify(template(`4477009006${String(i).padStart(2, "0")}`)),
      });
      assert.equal(res.status, 202);
      ids.push(res.body.message.id);
    }
    const final = await eventually(
      async () => {
        const rows = await sql<{ id: string; status: string; error: unknown }>(
          "select id, status, error from messages where id = any($1)",
          [ids],
        );
        return rows.every((r) => ["sent", "delivered", "read", "failed"].includes(r.status))
          ? rows
          : null;
      },
      "every message to reach a final state",
      60_000,
    );
    const failed = final.filter((r) => r.status === "failed");
    assert.ok(failed.every((r) => r.error), "a failed message says why");
    // 12 attempts against a 20% fault rate: every message must get through
    assert.deepEqual(failed, [], "no message failed");
    const injected = await (await fetch(`${emulator.url}/__emulator/faults`)).json();
    const kinds = Object.entries(injected.injected).filter(([, n]) => (n as number) > 0).map((
      [k],
    ) => k).sort();
    assert.deepEqual(
      kinds,
      ["drop_after_accept", "rate_limit", "server_error", "slow"],
      "every fault kind happened",
    );
    const perMessage = new Map<string, number>();
    for (const m of emulator.messages()) {
      if (m.bizOpaqueCallbackData) {
        perMessage.set(m.bizOpaqueCallbackData, (perMessage.get(m.bizOpaqueCallbackData) ?? 0) + 1);
      }
    }
    const twice = [...perMessage].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], "the emulator's log shows no message accepted twice");
    const accepted = final.filter((r) => r.status !== "failed").length;
    assert.equal(
      accepted,
      perMessage.size,
      "every message the emulator accepted ended sent or later",
    );
  } finally {
    await ch.close();
  }
});

Deno.test("an invalid access token (190) fails the message with that code and stops retrying", async () => {
  const { ch } = await emulatedChannel({}, { tokens: { "0": "other" } });
  try {
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900701")),
    });
    const row = await eventually(async () => {
      const [r] = await sql<{ status: string; error: { code: number }; attempts: number }>(
        "select status, error, attempts from messages where id = $1",
        [res.body.message.id],
      );
      return r.status === "failed" ? r : null;
    }, "the message to fail");
    assert.equal(row.error.code, 190);
    assert.equal(row.attempts, 1);
  } finally {
    await ch.close();
  }
});

Deno.test("re-driving a dead-lettered message sends a new message that names it; the failed one stays failed", async () => {
  const { ch, emulator } = await emulatedChannel({
    SEND_BACKOFF_BASE_MS: "20",
    SEND_MAX_ATTEMPTS: "2",
  });
  try {
    emulator.setFaults({ rate: 1, kinds: ["server_error"], seed: 1 });
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify(template("447700900801")),
    });
    const id = res.body.message.id;
    await eventually(
      async () =>
        (await ch.api(`/v1/messages?dead_letter=true`)).body.data.some((m: { id: string }) =>
          m.id === id
        ),
      "dead letter",
    );
    emulator.setFaults({ rate: 0, kinds: [] });
    const again = await ch.api(`/v1/messages/${id}/retry`, { method: "POST" });
    assert.equal(again.status, 202);
    const redrive = again.body.message;
    assert.notEqual(redrive.id, id, "a new message");
    assert.equal(redrive.retry_of, id);
    await eventually(
      async () =>
        ["accepted", "sent", "delivered"].includes(
          (await ch.api(`/v1/messages/${redrive.id}`)).body.message.status,
        ),
      "the re-drive to be sent",
    );
    const original = (await ch.api(`/v1/messages/${id}`)).body.message;
    assert.equal(original.status, "failed", "what the client was told stands");
    assert.ok(original.dead_lettered_at);

    // again: the same new message, nothing sent twice
    const twice = await ch.api(`/v1/messages/${id}/retry`, { method: "POST" });
    assert.equal(twice.status, 200);
    assert.equal(twice.body.message.id, redrive.id);
    await ch.idle();
    assert.equal(emulator.messages().filter((m) => m.to === "447700900801").length, 1);
    const notDead = await ch.api(`/v1/messages/${redrive.id}/retry`, { method: "POST" });
    assert.equal(notDead.status, 409);
    assert.equal(notDead.body.error.code, "not_dead_lettered");
  } finally {
    await ch.close();
  }
});

Deno.test("re-driving a dead letter left without content or recipient, or with content not its own (written past the API), gets 409 and queues nothing", async () => {
  const rung: Job[] = [];
  const ch = await startChannel({
    doorbell: () => ({ ring: (jobs) => (rung.push(...jobs), Promise.resolve()) }),
  });
  try {
    // every shape the schema allows (nullable recipient and content, any text), written past the
    // API under the client's RLS (an operator's SQL, a bug elsewhere), is a dead letter to re-drive
    const tenant = clientWithToken(await signJwt({ client_id: ch.clientId }));
    const [phone] = await sql<{ id: string }>(
      "select id from phone_numbers where phone_number_id = $1",
      [ch.phoneNumberId],
    );
    const dek = await ch.app.deps.services.dataKeys.forClient(ch.clientId);
    const sealed = (id: string) =>
      encryptField(dek, JSON.stringify(template("447700900811")), `message:${id}`);
    const deadLetter = async (fields: Record<string, unknown> = {}) => {
      const id = crypto.randomUUID();
      return {
        id,
        client_id: ch.clientId,
        phone_number_id: phone.id,
        direction: "outbound",
        type: "template",
        status: "failed",
        recipient: "447700900811",
        content_ciphertext: await sealed(id),
        failed_at: new Date().toISOString(),
        dead_lettered_at: new Date().toISOString(),
        ...fields,
      };
    };
    const sendable = await deadLetter();
    const unsendable = {
      "no content": await deadLetter({ content_ciphertext: null }),
      "no recipient": await deadLetter({ recipient: null }),
      "another message's content": await deadLetter({
        content_ciphertext: await sealed(sendable.id),
      }),
      "content in no format of ours": await deadLetter({ content_ciphertext: "plain text" }),
      "a recipient that is no number or user id": await deadLetter({ recipient: "anyone" }),
    };
    const { error } = await tenant.from("messages").insert([
      sendable,
      ...Object.values(unsendable),
    ]);
    assert.equal(error, null, error?.message);

    for (const [what, row] of Object.entries(unsendable)) {
      const res = await ch.api(`/v1/messages/${row.id}/retry`, { method: "POST" });
      assert.equal(res.status, 409, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "message_not_resendable", what);
      assert.equal(res.body.error.request_id, res.headers.get("x-request-id"), what);
    }
    assert.deepEqual(rung, [], "nothing queued");
    const [{ n }] = await sql<{ n: number }>(
      "select count(*)::int as n from messages where client_id = $1",
      [ch.clientId],
    );
    assert.equal(n, 1 + Object.keys(unsendable).length, "no message added");

    // the one whose content and recipient are its own goes again
    const ok = await ch.api(`/v1/messages/${sendable.id}/retry`, { method: "POST" });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(ok.body.message.retry_of, sendable.id);
  } finally {
    await ch.close();
  }
});

Deno.test("media of an inbound message streams through /v1/media/{id}; another client cannot fetch it", async () => {
  const { ch, emulator } = await emulatedChannel();
  const other = await emulatedChannel();
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(4096));
    const up = await fetch(`${emulator.url}/__emulator/media`, {
      method: "POST",
      headers: { "content-type": "image/jpeg" },
      body: bytes,
    });
    const { id } = await up.json();
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900901", "image", { image: { id, mime_type: "image/jpeg", sha256: "x" } }),
      ),
    );
    await ch.idle();
    const res = await fetch(`${ch.appUrl}/v1/media/${id}`, {
      headers: { authorization: `Bearer ${ch.key}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
    const foreign = await fetch(`${other.ch.appUrl}/v1/media/${id}`, {
      headers: { authorization: `Bearer ${other.ch.key}` },
    });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();
  } finally {
    await ch.close();
    await other.ch.close();
  }
});

Deno.test("inbound media simulated as the emulator's --help says (upload, then an inbound message naming it) reaches the client through /v1/media/{id}", async () => {
  const { ch, emulator } = await emulatedChannel();
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(2048));
    const { id } = await (await fetch(`${emulator.url}/__emulator/media`, {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: bytes,
    })).json();
    const sent = await fetch(`${emulator.url}/__emulator/inbound`, {
      method: "POST",
      body: JSON.stringify({
        phone_number_id: ch.phoneNumberId,
        from: "447700900902",
        message: { type: "document", document: { id, mime_type: "application/pdf" } },
      }),
    });
    assert.equal((await sent.json()).status, 200, "the app took the signed webhook");
    await ch.idle();
    const res = await fetch(`${ch.appUrl}/v1/media/${id}`, {
      headers: { authorization: `Bearer ${ch.key}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/pdf");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  } finally {
    await ch.close();
  }
});

Deno.test("marking an inbound message as read calls the Graph API with the documented body", async () => {
  const { ch } = await emulatedChannel();
  try {
    const w = `wamid.read${crypto.randomUUID().slice(0, 8)}`;
    await ch.postWebhook(
      envelope(
        ch.wabaId,
        ch.phoneNumberId,
        inbound("447700900951", "text", { text: { body: "hi" } }, { id: w }),
      ),
    );
    await ch.idle();
    const res = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ messaging_product: "whatsapp", status: "read", message_id: w }),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { success: true });
    const unknown = await ch.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ status: "read", message_id: "wamid.unknown" }),
    });
    assert.equal(unknown.status, 404);
  } finally {
    await ch.close();
  }
});

Deno.test("two messages to one recipient are spaced by the per-recipient interval; other recipients are not held up", async () => {
  const { ch, emulator } = await emulatedChannel({ RECIPIENT_MIN_INTERVAL_MS: "1500" });
  try {
    for (const to of ["447700900961", "447700900961", "447700900962"]) {
      assert.equal(
        (await ch.api("/v1/messages", { method: "POST", body: JSON.stringify(template(to)) }))
          .status,
        202,
      );
    }
    await eventually(
      () => Promise.resolve(emulator.messages().length === 3 ? true : null),
      "three sends",
      20_000,
    );
    const times = (to: string) =>
      emulator.messages().filter((m) => m.to === to).map((m) => Date.parse(m.receivedAt));
    const [first, second] = times("447700900961");
    assert.ok(second - first >= 1400, `second send ${second - first} ms after the first`);
    const [other] = times("447700900962");
    assert.ok(other < second, "another recipient did not wait behind the paced one");
  } finally {
    await ch.close();
  }
});

Deno.test("a queued message whose stored content cannot be read fails alone with message_not_resendable; the send job beside it goes out", async () => {
  let consumerDown = true;
  const lost: Job[] = [];
  const { ch, emulator } = await emulatedChannel({}, {}, {
    doorbell: (handle) => ({
      ring: (jobs) =>
        consumerDown ? (lost.push(...jobs), Promise.resolve()) : handle(jobs).then(() => {}),
    }),
  });
  try {
    const ids: string[] = [];
    for (const to of ["447700900591", "447700900592"]) {
      const res = await ch.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify(template(to)),
      });
      assert.equal(res.status, 202);
      ids.push(res.body.message.id);
    }
    // one row's content no longer opens (written past the API); both claims are long dead
    await sql("update messages set content_ciphertext = 'not a ciphertext' where id = $1", [
      ids[0],
    ]);
    await sql(
      "update messages set locked_until = now() - interval '1 minute' where id = any($1)",
      [ids],
    );
    consumerDown = false;
    // the jobs as a queue or the sweeper hands them over: no claim, no content carried
    await ch.app.handleJobs(
      lost.flatMap((j) =>
        j.kind === "send" ? [{ kind: j.kind, clientId: j.clientId, messageId: j.messageId }] : []
      ),
    );
    const bad = await ch.api(`/v1/messages/${ids[0]}`);
    assert.equal(bad.body.message.status, "failed");
    assert.equal(bad.body.message.error.code, "message_not_resendable");
    await eventually(async () => {
      const m = await ch.api(`/v1/messages/${ids[1]}`);
      return m.body.message.status === "delivered" ? m.body : null;
    }, "the good message to be delivered");
    assert.deepEqual(emulator.messages().map((m) => m.to), ["447700900592"]);
  } finally {
    await ch.close();
  }
});
