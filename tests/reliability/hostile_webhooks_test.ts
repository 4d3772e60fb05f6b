/**
 * Hostile input at Meta's webhook: whatever arrives, the answer is 200 or a documented 4xx with
 * the error envelope (never a 5xx), an unverified request stores nothing, and a verified one has
 * every valid event in it stored, on the first pass, in bounded time and memory, whatever shares
 * its delivery or its processing batch.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { signMetaPayload } from "../../src/core/whatsapp/signature.ts";
import {
  INBOUND_MESSAGE_TYPES,
  inboundMessageSchema,
} from "../../src/core/whatsapp/webhook_payload.ts";
import { assertEnvelope, tenantWithNumber, webhookRowCounts, withEdge } from "../_support/edge.ts";
import {
  checkCases,
  checkProperty,
  contentType,
  extremeTimestamp,
  hostileBytes,
  hostileJson,
  hostileString,
  mutateString,
  oddJsonText,
  RUNS,
} from "../_support/fuzz.ts";
import { ABSENT, ODD_VALUES, pathsOf, withValueAt } from "../_support/json_variants.ts";
import { metaJson } from "../_support/meta_payloads.ts";
import { sql, testStack } from "../_support/stack.ts";

const secrets = testStack().secrets;
const PATH = "/webhooks/whatsapp";
/** Meta retries a delivery it has no answer for within a few seconds; ours must come well before */
const ACK_LIMIT_MS = 5_000;
/**
 * A delivery's invalid items are kept for operators, but never one row each without bound: a
 * million tiny invalid items once became a million rows and froze the app (issue 11, class 2).
 */
const MAX_ROWS_FOR_INVALID_ITEMS = 1_000;

const sign = (raw: Uint8Array | string, secret = secrets.meta_app_secret) =>
  signMetaPayload(typeof raw === "string" ? new TextEncoder().encode(raw) : raw, secret);

// ---------------------------------------------------------------- plans of deliveries

const digitString = (min: number, max: number) =>
  fc.bigInt({ min: 10n ** BigInt(min - 1), max: 10n ** BigInt(max) - 1n }).map(String);

/** The inbound types the parser knows; others are stored as "unsupported". */
const KNOWN_TYPES: ReadonlySet<string> = new Set(INBOUND_MESSAGE_TYPES);
/**
 * Fields every message carries beside its payload (`id`, `from`, `context`, …): a type's payload
 * sits under the type's name, so no type Meta adds can be named like one of them.
 */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set(Object.keys(inboundMessageSchema.shape));

/** Type-specific payloads in the documented shapes, every free-text field hostile. */
const inboundPayload: fc.Arbitrary<{ type: string; payload: unknown }> = fc.oneof(
  hostileString(200).map((s) => ({ type: "text", payload: { body: s } })),
  fc.record({ caption: hostileString(), id: digitString(10, 16) }).map((p) => ({
    type: "image",
    payload: { id: p.id, mime_type: "image/jpeg", sha256: "aGFzaA==", caption: p.caption },
  })),
  fc.record({ caption: hostileString(), filename: hostileString(), id: digitString(10, 16) })
    .map((p) => ({
      type: "document",
      payload: { id: p.id, mime_type: "application/pdf", filename: p.filename, caption: p.caption },
    })),
  fc.record({ id: digitString(10, 16), voice: fc.boolean() }).map((p) => ({
    type: "audio",
    payload: { id: p.id, mime_type: "audio/ogg; codecs=opus", voice: p.voice },
  })),
  fc.record({
    latitude: fc.double({ min: -90, max: 90, noNaN: true }),
    longitude: fc.double({ min: -180, max: 180, noNaN: true }),
    name: hostileString(),
    address: hostileString(),
  }).map((payload) => ({ type: "location", payload })),
  fc.record({ name: hostileString(), phone: hostileString(), waId: digitString(8, 15) }).map((
    p,
  ) => ({
    type: "contacts",
    payload: [{ name: { formatted_name: p.name }, phones: [{ phone: p.phone, wa_id: p.waId }] }],
  })),
  fc.record({ id: hostileString(), title: hostileString() }).map((reply) => ({
    type: "interactive",
    payload: { type: "button_reply", button_reply: reply },
  })),
  fc.record({ text: hostileString(), payload: hostileString() }).map((payload) => ({
    type: "button",
    payload,
  })),
  hostileString(8).map((emoji) => ({
    type: "reaction",
    payload: { message_id: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", emoji },
  })),
  fc.record({ text: hostileString(), retailer: hostileString(), currency: hostileString(3) }).map(
    (p) => ({
      type: "order",
      payload: {
        catalog_id: "194836987003835",
        text: p.text,
        product_items: [{
          product_retailer_id: p.retailer,
          quantity: 1,
          item_price: 9.5,
          currency: p.currency,
        }],
      },
    }),
  ),
  hostileString().map((body) => ({
    type: "system",
    payload: { type: "user_changed_number", body },
  })),
  // types Meta adds later arrive as something we do not know
  fc.record({
    kind: fc.stringMatching(/^[a-z_]{1,20}$/).filter((k) =>
      !KNOWN_TYPES.has(k) && !MESSAGE_FIELDS.has(k)
    ),
    payload: hostileJson,
  }).map((p) => ({
    type: p.kind,
    payload: p.payload,
  })),
);

const messagePlan = fc.record({
  inbound: inboundPayload,
  name: fc.option(hostileString(60), { nil: null }),
  from: digitString(8, 15),
  at: fc.integer({ min: 0, max: 2 ** 32 }),
});

const statusPlan = fc.record({
  status: fc.constantFrom("sent", "delivered", "read", "failed", "deleted", "warning"),
  at: fc.integer({ min: 0, max: 2 ** 32 }),
  errors: fc.option(
    fc.array(fc.record({ code: fc.integer(), title: hostileString(), details: hostileString() }), {
      minLength: 1,
      maxLength: 2,
    }),
    { nil: null },
  ),
  category: fc.option(hostileString(20), { nil: null }),
});

const FIELDS = [
  "account_update",
  "account_alerts",
  "message_template_status_update",
  "message_template_quality_update",
  "phone_number_quality_update",
  "template_category_update",
  "business_capability_update",
  "security",
] as const;

const fieldPlan = fc.record({ field: fc.constantFrom(...FIELDS), data: hostileJson });

/** A valid item, then one path inside it removed or replaced by something hostile. */
const garbagePlan = fc.record({
  base: fc.constantFrom("message", "status", "contact", "change", "entry"),
  inner: messagePlan,
  at: fc.nat(),
  to: fc.oneof(
    hostileJson,
    extremeTimestamp,
    fc.constant(ABSENT),
    fc.constantFrom(...ODD_VALUES.filter((v) => v !== undefined)),
  ),
});

const changePlan = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("messages" as const),
      messages: fc.array(messagePlan, { maxLength: 3 }),
      statuses: fc.array(statusPlan, { maxLength: 3 }),
      garbage: fc.array(garbagePlan, { maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("field" as const), field: fieldPlan }) },
);

const deliveryPlan = fc.record({
  entries: fc.array(
    fc.record({
      tenant: fc.constantFrom(0, 1, 2),
      changes: fc.array(changePlan, { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  metaSerialisation: fc.boolean(),
  contentType,
  repeatedHeader: fc.boolean(),
});

type MessagePlan = typeof messagePlan extends fc.Arbitrary<infer T> ? T : never;
type DeliveryPlan = typeof deliveryPlan extends fc.Arbitrary<infer T> ? T : never;
type Tenant = Awaited<ReturnType<typeof tenantWithNumber>>;

let serial = 0;
const runTag = crypto.randomUUID().slice(0, 8);
const freshWamid = () => `wamid.HBgL${runTag}${(++serial).toString(36).padStart(8, "0")}=`;

interface Expected {
  messages: Array<{ clientId: string; wamid: string; type: string }>;
  statuses: Array<{ clientId: string; wamid: string }>;
  fields: Array<{ clientId: string; marker: string }>;
}

function buildMessage(plan: MessagePlan) {
  const id = freshWamid();
  const message: Record<string, unknown> = {
    from: plan.from,
    id,
    timestamp: String(plan.at),
    type: plan.inbound.type,
  };
  if (plan.inbound.payload !== undefined) message[plan.inbound.type] = plan.inbound.payload;
  const contact: Record<string, unknown> = { wa_id: plan.from };
  if (plan.name !== null) contact.profile = { name: plan.name };
  return { id, message, contact };
}

/** The delivery's body and the events it must leave stored. */
function materialise(plan: DeliveryPlan, tenants: Tenant[], expected: Expected) {
  const entries: unknown[] = [];
  for (const e of plan.entries) {
    const tenant = tenants[e.tenant] as Tenant | undefined;
    const wabaId = tenant?.wabaId ?? `9${String(++serial).padStart(14, "0")}`;
    const phoneNumberId = tenant?.phoneNumberId ?? `8${String(++serial).padStart(14, "0")}`;
    const changes: unknown[] = [];
    entries.push({ id: wabaId, changes });
    for (const c of e.changes) {
      if (c.kind === "field") {
        const marker = crypto.randomUUID();
        changes.push({ field: c.field.field, value: { marker, data: c.field.data } });
        if (tenant) expected.fields.push({ clientId: tenant.clientId, marker });
        continue;
      }
      const metadata = { display_phone_number: "15550001111", phone_number_id: phoneNumberId };
      const contacts: unknown[] = [];
      const messages: unknown[] = [];
      const statuses: unknown[] = [];
      for (const m of c.messages) {
        const built = buildMessage(m);
        contacts.push(built.contact);
        messages.push(built.message);
        if (tenant) {
          expected.messages.push({
            clientId: tenant.clientId,
            wamid: built.id,
            type: KNOWN_TYPES.has(m.inbound.type) ? m.inbound.type : "unsupported",
          });
        }
      }
      for (const s of c.statuses) {
        const id = freshWamid();
        const status: Record<string, unknown> = {
          id,
          status: s.status,
          timestamp: String(s.at),
          recipient_id: "447700900123",
        };
        if (s.category !== null) {
          status.pricing = { billable: true, pricing_model: "PMP", category: s.category };
        }
        if (s.errors) {
          status.errors = s.errors.map((x) => ({
            code: x.code,
            title: x.title,
            message: x.title,
            error_data: { details: x.details },
          }));
        }
        statuses.push(status);
        if (tenant) expected.statuses.push({ clientId: tenant.clientId, wamid: id });
      }
      // garbage is not tracked: the events it carries may be lost, its neighbours may not
      for (const g of c.garbage) {
        const { message, contact } = buildMessage(g.inner);
        const mutate = (item: unknown) => {
          const paths = pathsOf(item);
          return paths.length ? withValueAt(item, paths[g.at % paths.length], g.to) : g.to;
        };
        const change = {
          field: "messages",
          value: {
            messaging_product: "whatsapp",
            metadata,
            contacts: [contact],
            messages: [message],
          },
        };
        if (g.base === "message") messages.push(mutate(message));
        else if (g.base === "contact") {
          changes.push({ ...change, value: { ...change.value, contacts: [mutate(contact)] } });
        } else if (g.base === "status") {
          statuses.push(
            mutate({ id: freshWamid(), status: "sent", timestamp: String(g.inner.at) }),
          );
        } else if (g.base === "change") changes.push(mutate(change));
        else entries.push(mutate({ id: wabaId, changes: [change] }));
      }
      const value: Record<string, unknown> = { messaging_product: "whatsapp", metadata };
      if (contacts.length) value.contacts = contacts;
      if (messages.length) value.messages = messages;
      if (statuses.length) value.statuses = statuses;
      changes.push({ field: "messages", value });
    }
  }
  const body = { object: "whatsapp_business_account", entry: entries };
  return plan.metaSerialisation ? metaJson(body) : JSON.stringify(body);
}

// ---------------------------------------------------------------- the properties

Deno.test("an unverified POST to the webhook gets 401 (or 413) with the envelope and stores nothing", async () => {
  await withEdge({}, async (edge) => {
    const valid = metaJson({ object: "whatsapp_business_account", entry: [] });
    const body = fc.oneof(
      hostileBytes,
      hostileJson.map((v) => JSON.stringify(v) ?? "null"),
      oddJsonText,
      fc.constant(valid),
    );
    const signature = fc.oneof(
      fc.constant(null),
      fc.constantFrom("", "sha256=", "sha1=0000", "sha256=" + "0".repeat(64), "SHA256=", " "),
      fc.stringMatching(/^sha256=[0-9a-f]{64}$/),
      hostileString().filter((s) => !/[^\x20-\x7e]/.test(s)),
      fc.constant("wrong-secret"),
      fc.constant("other-body"),
      fc.constant("twice"),
    );
    await checkProperty(
      "hostile input",
      "POST /webhooks/whatsapp, unverified: 401 or 413 with the envelope, nothing stored",
      fc.record({ body, signature, contentType }),
      async ({ body, signature, contentType }) => {
        const raw = typeof body === "string" ? new TextEncoder().encode(body) : body;
        const headers = new Headers();
        if (contentType !== undefined) headers.set("content-type", contentType);
        if (signature === "wrong-secret") {
          headers.set("x-hub-signature-256", await sign(raw, "not-the-app-secret"));
        } else if (signature === "other-body") {
          headers.set("x-hub-signature-256", await sign(new Uint8Array([...raw, 0x20])));
        } else if (signature === "twice") {
          // a second header makes the value "<good>, <good>": not one signature
          headers.append("x-hub-signature-256", await sign(raw));
          headers.append("x-hub-signature-256", await sign(raw));
        } else if (signature !== null) headers.set("x-hub-signature-256", signature);
        const before = await webhookRowCounts();
        const res = await edge.fetch(PATH, { method: "POST", body: raw, headers });
        assert.ok([401, 413].includes(res.status), `status ${res.status}: ${res.text}`);
        assertEnvelope(res, "unverified delivery");
        await edge.idle();
        assert.deepEqual(await webhookRowCounts(), before, "an unverified request stored rows");
        return 1;
      },
      { runs: Math.max(20, RUNS * 4), properties: 2 },
    );
  });
});

Deno.test("the GET handshake echoes the challenge only for the verify token, and answers 403 with the envelope otherwise", async () => {
  await withEdge({}, async (edge) => {
    const token = secrets.meta_verify_token;
    const param = fc.oneof(
      fc.tuple(fc.constant("hub.mode"), fc.oneof(fc.constant("subscribe"), hostileString())),
      fc.tuple(
        fc.constant("hub.verify_token"),
        fc.oneof(fc.constant(token), mutateString(token), hostileString()),
      ),
      fc.tuple(fc.constant("hub.challenge"), fc.oneof(hostileString(), hostileString(5000))),
      fc.tuple(hostileString(10), hostileString()),
    );
    await checkProperty(
      "hostile input",
      "GET /webhooks/whatsapp: the challenge only for the verify token, else 403 with the envelope",
      fc.record({ params: fc.array(param, { maxLength: 6 }), raw: fc.boolean() }),
      async ({ params, raw }) => {
        let url: URL;
        try {
          const query = params.map(([k, v]) =>
            raw
              ? `${k}=${v.replace(/[^\x21-\x7e]|[#&%+]/g, (ch) => encodeURIComponent(ch))}`
              : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`
          ).join("&");
          url = new URL(`http://edge.test${PATH}?${query}`);
        } catch {
          return 0; // not a URL any client could send (a lone surrogate cannot be encoded)
        }
        const res = await edge.fetch(url.pathname + url.search);
        const sent = url.searchParams;
        const verified = sent.get("hub.mode") === "subscribe" &&
          sent.get("hub.verify_token") === token;
        if (verified) {
          assert.equal(res.status, 200, res.text);
          assert.equal(res.text, sent.get("hub.challenge") ?? "");
        } else {
          assert.equal(res.status, 403, `status ${res.status} for ${url.search.slice(0, 200)}`);
          assertEnvelope(res, "handshake");
        }
        return 1;
      },
      { runs: Math.max(20, RUNS * 4), properties: 2 },
    );
  });
});

Deno.test("a signed delivery of arbitrary bytes or JSON gets 200 or a 4xx envelope in bounded time, never a 5xx, and its processing ends", async () => {
  await withEdge({}, async (edge) => {
    const body = fc.oneof(
      hostileBytes,
      hostileJson.map((v) => JSON.stringify(v) ?? "null"),
      oddJsonText,
      fc.record({ object: fc.constant("whatsapp_business_account"), entry: hostileJson }).map((v) =>
        JSON.stringify(v)
      ),
      fc.record({
        object: fc.constant("whatsapp_business_account"),
        entry: fc.array(fc.record({ id: hostileJson, changes: hostileJson })),
      }).map((v) => JSON.stringify(v)),
    );
    await checkProperty(
      "hostile input",
      "POST /webhooks/whatsapp, signed arbitrary bodies: 200 or 4xx envelope, bounded time",
      fc.record({ body, contentType }),
      async ({ body, contentType }) => {
        const raw = typeof body === "string" ? new TextEncoder().encode(body) : body;
        const headers = new Headers({ "x-hub-signature-256": await sign(raw) });
        if (contentType !== undefined) headers.set("content-type", contentType);
        const res = await edge.fetch(PATH, { method: "POST", body: raw, headers });
        assert.ok(res.status < 500, `status ${res.status}: ${res.text}`);
        if (res.status >= 400) {
          assert.ok([400, 413].includes(res.status), `undocumented ${res.status}: ${res.text}`);
          assertEnvelope(res, "signed arbitrary body");
        }
        assert.ok(res.ms < ACK_LIMIT_MS, `answered after ${Math.round(res.ms)} ms`);
        await edge.idle();
        return 1;
      },
      { runs: Math.max(20, RUNS * 4), properties: 3 },
    );
  });
});

Deno.test("every valid event of signed deliveries with hostile content is stored for its client on the first pass, whatever shares its delivery or batch", async () => {
  await withEdge({}, async (edge) => {
    const tenants = [await tenantWithNumber("Hostile A"), await tenantWithNumber("Hostile B")];
    const clientIds = tenants.map((t) => t.clientId);
    await checkProperty(
      "hostile input",
      "POST /webhooks/whatsapp, signed hostile deliveries: every valid event stored on the first pass",
      fc.array(deliveryPlan, { minLength: 1, maxLength: 5 }),
      async (plans) => {
        const expected: Expected = { messages: [], statuses: [], fields: [] };
        const requests = await Promise.all(plans.map(async (plan) => {
          const raw = new TextEncoder().encode(materialise(plan, tenants, expected));
          const headers = new Headers({ "x-hub-signature-256": await sign(raw) });
          if (plan.contentType !== undefined) headers.set("content-type", plan.contentType);
          if (plan.repeatedHeader) {
            headers.append("x-request-id", "hostile-1234");
            headers.append("x-request-id", "hostile-5678");
            headers.append("user-agent", "a");
            headers.append("user-agent", "b");
          }
          return { raw, headers };
        }));
        // posted together, as Meta does, so their processing shares batches
        const answers = await Promise.all(
          requests.map((r) => edge.fetch(PATH, { method: "POST", ...r, body: r.raw })),
        );
        for (const res of answers) {
          assert.equal(res.status, 200, res.text);
          assert.ok(res.ms < ACK_LIMIT_MS, `answered after ${Math.round(res.ms)} ms`);
        }
        await edge.idle();

        const messages = await sql<{ client_id: string; wamid: string; type: string }>(
          "select client_id, wamid, type from messages where client_id = any($1) and wamid = any($2)",
          [clientIds, expected.messages.map((m) => m.wamid)],
        );
        const statuses = await sql<{ client_id: string; wamid: string }>(
          "select client_id, wamid from message_status_events where client_id = any($1) and wamid = any($2)",
          [clientIds, expected.statuses.map((s) => s.wamid)],
        );
        const fields = await sql<{ client_id: string; marker: string }>(
          "select client_id, value->>'marker' as marker from whatsapp_account_events where client_id = any($1) and value->>'marker' = any($2)",
          [clientIds, expected.fields.map((f) => f.marker)],
        );
        const stored = new Set([
          ...messages.map((m) => `message ${m.client_id} ${m.wamid} ${m.type}`),
          ...statuses.map((s) => `status ${s.client_id} ${s.wamid}`),
          ...fields.map((f) => `field ${f.client_id} ${f.marker}`),
        ]);
        const missing = [
          ...expected.messages.map((m) => `message ${m.clientId} ${m.wamid} ${m.type}`),
          ...expected.statuses.map((s) => `status ${s.clientId} ${s.wamid}`),
          ...expected.fields.map((f) => `field ${f.clientId} ${f.marker}`),
        ].filter((k) => !stored.has(k));
        if (missing.length) {
          // the inbox knows each delivery by its signature
          const errors = await sql<{ last_error: string }>(
            "select distinct last_error from webhook_inbox where dedupe_key = any($1) and last_error is not null",
            [requests.map((r) => r.headers.get("x-hub-signature-256")!.slice("sha256=".length))],
          );
          assert.fail(
            `${missing.length} valid event(s) not stored, e.g. ${missing.slice(0, 3).join("; ")}` +
              `; inbox errors: ${errors.map((e) => e.last_error).join(" | ")}`,
          );
        }
        return plans.length;
      },
      { properties: 3 },
    );
  });
});

Deno.test("one signed delivery at the size limit with the most items is answered in bounded time, keeps the app answering, and stores bounded rows and its valid message", async () => {
  await withEdge({}, async (edge) => {
    const tenant = await tenantWithNumber("Hostile extreme");
    // RELIABILITY_RUNS scales it: 10 (the default) → 20,000 items; 500 → the 3 MB limit
    const limit = Number(edge.deps.env.WEBHOOK_MAX_BODY_BYTES);
    const valid = freshWamid();
    const build = (items: number) =>
      JSON.stringify({
        object: "whatsapp_business_account",
        entry: [{
          id: tenant.wabaId,
          changes: [{
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "1555", phone_number_id: tenant.phoneNumberId },
              contacts: [{ wa_id: "447700900123", profile: { name: "x" } }],
              messages: [
                {
                  from: "447700900123",
                  id: valid,
                  timestamp: "1764590000",
                  type: "text",
                  text: { body: "still here" },
                },
                ...Array(items).fill({}),
              ],
            },
          }],
        }],
      });
    const items = Math.min(RUNS * 2_000, Math.floor((limit - 1_000) / 3));
    const raw = new TextEncoder().encode(build(items));
    await checkCases(
      "hostile input",
      `one signed delivery of ${items} invalid items`,
      async (tally) => {
        const baseline = Deno.memoryUsage().heapUsed;
        let peak = baseline;
        let slowest = 0;
        let probing = true;
        // the app must keep answering others while it works on this delivery
        const probe = (async () => {
          let probes = 0;
          while (probing) {
            const res = await edge.fetch("/healthz");
            slowest = Math.max(slowest, res.ms);
            peak = Math.max(peak, Deno.memoryUsage().heapUsed);
            probes++;
            await new Promise((r) => setTimeout(r, 50));
          }
          return probes;
        })();
        const started = performance.now();
        const res = await edge.fetch(PATH, {
          method: "POST",
          body: raw,
          headers: { "x-hub-signature-256": await sign(raw), "content-type": "application/json" },
        });
        const acked = performance.now() - started;
        tally.inputs++;
        try {
          assert.equal(res.status, 200, res.text);
          await edge.idle(120_000);
        } finally {
          probing = false;
        }
        const probes = await probe;
        const processed = performance.now() - started;
        const [rows] = await sql<{ invalid: number; valid: number }>(
          `select (select count(*)::int from whatsapp_account_events where client_id = $1) as invalid,
                (select count(*)::int from messages where client_id = $1 and wamid = $2) as valid`,
          [tenant.clientId, valid],
        );
        const grownMb = (peak - baseline) / 2 ** 20;
        console.log(
          `[reliability] ${raw.length} bytes, ${items} items: answered in ${
            Math.round(acked)
          } ms, ` +
            `processed in ${Math.round(processed)} ms, slowest other answer ${
              Math.round(slowest)
            } ms ` +
            `(${probes} probes), heap grew ${
              grownMb.toFixed(0)
            } MB, ${rows.invalid} rows for invalid items`,
        );
        assert.ok(acked < ACK_LIMIT_MS, `answered after ${Math.round(acked)} ms`);
        assert.ok(slowest < ACK_LIMIT_MS, `another request waited ${Math.round(slowest)} ms`);
        assert.equal(rows.valid, 1, "the valid message beside the invalid items is stored");
        assert.ok(
          rows.invalid <= MAX_ROWS_FOR_INVALID_ITEMS,
          `${rows.invalid} rows stored for ${items} invalid items (at most ${MAX_ROWS_FOR_INVALID_ITEMS})`,
        );
        // the body itself, its parse and its encrypted copy are a few times its size; per-item
        // copies beyond that grow without bound
        assert.ok(
          grownMb < 64 + 40 * raw.length / 2 ** 20,
          `heap grew ${grownMb.toFixed(0)} MB for a ${raw.length}-byte delivery`,
        );
      },
      5,
    );
  });
});
