import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type FieldEvent,
  type InboundMessageEvent,
  MAX_INVALID_ITEMS_KEPT,
  metaEnvelopeProblem,
  type MetaEvent,
  metaRouteKey,
  metaWebhookEvents,
  OMITTED_FIELD,
  parseMetaWebhook,
  parseMetaWebhookWithZod,
  type StatusEvent,
} from "../../../src/core/whatsapp/parse_webhook.ts";
import {
  changeSchema,
  contactSchema,
  entrySchema,
  envelopeSchema,
  INBOUND_PAYLOAD_SCHEMAS,
  inboundMessageSchema,
  messagesValueSchema,
  statusSchema,
} from "../../../src/core/whatsapp/webhook_payload.ts";
import {
  buildEnvelope,
  buildError,
  buildInbound,
  buildMessagesChange,
  buildStatus,
  combineEnvelopes,
  CUSTOMER_BSUID,
  CUSTOMER_WA_ID,
  DISPLAY_PHONE_NUMBER,
  type InboundOptions,
  INTERACTIVE_SAMPLES,
  PHONE_NUMBER_ID,
  SAMPLE_PAYLOADS,
  WABA_ID,
} from "../../_support/meta_payloads.ts";
import {
  ABSENT,
  ODD_VALUES,
  pathsOf,
  variantsOf,
  withValueAt,
} from "../../_support/json_variants.ts";

const AT = new Date("2026-11-20T09:30:00Z");

function events(body: unknown): MetaEvent[] {
  const result = parseMetaWebhook(body);
  if (!result.ok) throw new Error(`expected ok, got: ${result.error}`);
  return result.events;
}

function single<K extends MetaEvent["kind"]>(body: unknown, kind: K) {
  const all = events(body);
  assert.equal(all.length, 1, JSON.stringify(all));
  assert.equal(all[0].kind, kind, JSON.stringify(all[0]));
  return all[0] as Extract<MetaEvent, { kind: K }>;
}

const inboundEvent = (opts: InboundOptions) =>
  single(buildEnvelope([buildMessagesChange({ inbound: [buildInbound(opts)] })]), "message");

Deno.test("parseMetaWebhook() normalises a text message with its contact, metadata and ISO time", () => {
  const inbound = buildInbound({ type: "text", id: "wamid.T1", at: AT, name: "Sheena Nelson" });
  const event = single(buildEnvelope([buildMessagesChange({ inbound: [inbound] })]), "message");
  assert.deepEqual(event, {
    kind: "message",
    wabaId: WABA_ID,
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: DISPLAY_PHONE_NUMBER,
    wamid: "wamid.T1",
    waId: CUSTOMER_WA_ID,
    userId: null,
    parentUserId: null,
    profileName: "Sheena Nelson",
    username: null,
    timestamp: "2026-11-20T09:30:00.000Z",
    type: "text",
    text: "Does it come in another color?",
    media: null,
    content: { body: "Does it come in another color?" },
    contextWamid: null,
    context: null,
    referral: null,
    errors: [],
    raw: inbound.message,
  });
});

const MEDIA_CASES: Array<[string, Partial<InboundMessageEvent>]> = [
  ["image", {
    text: "the parcel",
    media: {
      id: "1479537139650973",
      mimeType: "image/jpeg",
      sha256: "ieAmVFWLiSkt9S4C1V6FMtR0ORFx1WvgwnfjcuD2GFQ=",
      caption: "the parcel",
    },
  }],
  ["video", {
    text: "unboxing",
    media: {
      id: "1166846181421424",
      mimeType: "video/mp4",
      sha256: "Hm3LyLb3gLjnSBa39nZRgPn6WQZodT5jK8PMo8GO2b0=",
      caption: "unboxing",
    },
  }],
  ["audio", {
    text: null,
    media: {
      id: "1003383421387256",
      mimeType: "audio/ogg; codecs=opus",
      sha256: "5ZBl4tOchJzf6J8X7s5KgOvbYQrkdt9RuLhPSYtGDSk=",
      voice: true,
    },
  }],
  ["document", {
    text: "my invoice",
    media: {
      id: "1376223850470848",
      mimeType: "application/pdf",
      sha256: "dYbEJvxlN4mJYFJ08/ReS2tFTnoKVdyOd2GlPrFwB0s=",
      filename: "invoice-0042.pdf",
      caption: "my invoice",
    },
  }],
  ["sticker", {
    text: null,
    media: {
      id: "1125087932426513",
      mimeType: "image/webp",
      sha256: "X7cERtIOT3v2n1PSs0pfyuH5wpGRQfbDU0+VJ+s4j9A=",
    },
  }],
];

for (const [type, expected] of MEDIA_CASES) {
  Deno.test(`parseMetaWebhook() reads a ${type} message's media id, MIME type and hash`, () => {
    const event = inboundEvent({ type });
    assert.equal(event.type, type);
    assert.equal(event.text, expected.text);
    assert.deepEqual(event.media, expected.media);
    assert.deepEqual(event.content, SAMPLE_PAYLOADS[type]);
  });
}

Deno.test("parseMetaWebhook() marks audio without the voice flag as an attached file", () => {
  const payload = { id: "m1", mime_type: "audio/mpeg", sha256: "h" };
  const event = inboundEvent({ type: "audio", payload });
  assert.deepEqual(event.media, { id: "m1", mimeType: "audio/mpeg", sha256: "h", voice: false });
});

Deno.test("parseMetaWebhook() keeps the media URL that newer Graph versions send", () => {
  const payload = { ...SAMPLE_PAYLOADS.image as object, url: "https://lookaside.fbsbx.com/x" };
  assert.equal(
    inboundEvent({ type: "image", payload }).media?.url,
    "https://lookaside.fbsbx.com/x",
  );
});

const TEXT_CASES: Array<[string, unknown, string | null]> = [
  ["location", undefined, "Philz Coffee, 101 Forest Ave, Palo Alto, CA 94301"],
  ["location", { latitude: 1.5, longitude: 2.5 }, null],
  ["contacts", undefined, "Barbara Johnson"],
  ["interactive", INTERACTIVE_SAMPLES.button_reply, "Track it"],
  ["interactive", INTERACTIVE_SAMPLES.list_reply, "Medium"],
  ["interactive", INTERACTIVE_SAMPLES.nfm_reply, "Sent"],
  ["button", undefined, "Confirm"],
  ["reaction", undefined, "👍"],
  ["reaction", { message_id: "wamid.X", emoji: "" }, null],
  ["order", undefined, "Two of these, please"],
  ["system", undefined, "User A changed from 16505551234 to 16505550000"],
];

for (const [type, payload, text] of TEXT_CASES) {
  const label = (payload as { type?: string } | undefined)?.type ?? "sample";
  Deno.test(`parseMetaWebhook() takes the readable text of a ${type} (${label}) message`, () => {
    const event = inboundEvent({ type, payload });
    assert.equal(event.type, type);
    assert.equal(event.text, text);
    assert.equal(event.media, null);
  });
}

Deno.test("parseMetaWebhook() keeps each type's payload as received in content", () => {
  for (const type of ["location", "interactive", "button", "reaction", "order", "system"]) {
    assert.deepEqual(inboundEvent({ type }).content, SAMPLE_PAYLOADS[type], type);
  }
  // the contacts type is the one whose payload is an array
  assert.deepEqual(inboundEvent({ type: "contacts" }).content, {
    contacts: SAMPLE_PAYLOADS.contacts,
  });
  const flow = inboundEvent({ type: "interactive", payload: INTERACTIVE_SAMPLES.nfm_reply });
  assert.equal(
    JSON.parse((flow.content.nfm_reply as { response_json: string }).response_json).delivery,
    "express",
  );
});

Deno.test("parseMetaWebhook() reads a template quick-reply button with the template's wamid as context", () => {
  const event = inboundEvent({
    type: "button",
    context: { from: DISPLAY_PHONE_NUMBER, id: "wamid.TEMPLATE" },
  });
  assert.equal(event.contextWamid, "wamid.TEMPLATE");
  assert.deepEqual(event.content, { text: "Confirm", payload: "CONFIRM_1" });
});

Deno.test("parseMetaWebhook() reads reply, forward and referred-product context", () => {
  const reply = inboundEvent({
    type: "text",
    context: { from: DISPLAY_PHONE_NUMBER, id: "wamid.Q" },
  });
  assert.deepEqual(reply.context, {
    wamid: "wamid.Q",
    from: DISPLAY_PHONE_NUMBER,
    forwarded: false,
    frequentlyForwarded: false,
    referredProduct: null,
  });
  const forwarded = inboundEvent({ type: "text", context: { frequently_forwarded: true } });
  assert.equal(forwarded.contextWamid, null);
  assert.equal(forwarded.context?.frequentlyForwarded, true);
  const product = inboundEvent({
    type: "text",
    context: {
      from: DISPLAY_PHONE_NUMBER,
      id: "wamid.P",
      referred_product: { catalog_id: "194836987003835", product_retailer_id: "di9ozbzfi4" },
    },
  });
  assert.deepEqual(product.context?.referredProduct, {
    catalogId: "194836987003835",
    productRetailerId: "di9ozbzfi4",
  });
});

Deno.test("parseMetaWebhook() keeps the Click-to-WhatsApp referral", () => {
  const referral = {
    source_url: "https://fb.me/3cr4Wqqkv",
    source_id: "120226305854810726",
    source_type: "ad",
    headline: "Spring sale",
    media_type: "image",
    ctwa_clid: "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0",
  };
  assert.deepEqual(inboundEvent({ type: "text", referral }).referral, referral);
});

Deno.test("parseMetaWebhook() reads an unsupported message with its kind and 131051 error", () => {
  const event = inboundEvent({
    type: "unsupported",
    errors: [{
      code: 131051,
      title: "Message type unknown",
      message: "Message type unknown",
      error_data: { details: "Message type is currently not supported." },
    }],
  });
  assert.equal(event.type, "unsupported");
  assert.deepEqual(event.content, { type: "poll" });
  assert.deepEqual(event.errors, [{
    code: 131051,
    title: "Message type unknown",
    message: "Message type unknown",
    details: "Message type is currently not supported.",
  }]);
});

Deno.test("parseMetaWebhook() maps an unknown message type to unsupported and keeps the original", () => {
  const event = inboundEvent({ type: "poll_vote", payload: { poll_id: "p1", option: 2 } });
  assert.equal(event.type, "unsupported");
  assert.equal(event.text, null);
  assert.deepEqual(event.content, { type: "poll_vote", payload: { poll_id: "p1", option: 2 } });
  const legacy = inboundEvent({ type: "unknown" });
  assert.equal(legacy.type, "unsupported");
  assert.deepEqual(legacy.content, { type: "unknown" });
});

Deno.test("parseMetaWebhook() accepts request_welcome, which has no payload object", () => {
  const event = inboundEvent({ type: "request_welcome" });
  assert.equal(event.type, "request_welcome");
  assert.deepEqual(event.content, {});
});

Deno.test("parseMetaWebhook() keys a username user without a phone number by BSUID", () => {
  const event = inboundEvent({ type: "text", waId: null, userId: CUSTOMER_BSUID, name: "Ana" });
  assert.equal(event.waId, null);
  assert.equal(event.userId, CUSTOMER_BSUID);
  assert.equal(event.profileName, "Ana");
  const fromUserId = inboundEvent({
    type: "text",
    waId: null,
    userId: CUSTOMER_BSUID,
    fromUserId: true,
  });
  assert.equal(fromUserId.waId, null);
  assert.equal(fromUserId.userId, CUSTOMER_BSUID);
});

Deno.test("parseMetaWebhook() carries both the phone number and the BSUID when Meta sends both", () => {
  const event = inboundEvent({ type: "text", userId: CUSTOMER_BSUID });
  assert.equal(event.waId, CUSTOMER_WA_ID);
  assert.equal(event.userId, CUSTOMER_BSUID);
});

Deno.test("parseMetaWebhook() does not take a BSUID in `from` for a phone number", () => {
  const { contact, message } = buildInbound({ type: "text", waId: null, userId: CUSTOMER_BSUID });
  message.from = CUSTOMER_BSUID;
  const event = single(
    buildEnvelope([buildMessagesChange({ inbound: [{ contact, message }] })]),
    "message",
  );
  assert.equal(event.waId, null);
  assert.equal(event.userId, CUSTOMER_BSUID);
});

Deno.test("parseMetaWebhook() matches each message to its own contact in a multi-contact change", () => {
  const a = buildInbound({ type: "text", waId: "447700900001", name: "Ana" });
  const b = buildInbound({ type: "text", waId: "447700900002", name: "Bruno" });
  const c = buildInbound({ type: "text", waId: null, userId: "BR.998877", name: "Carla" });
  const all = events(buildEnvelope([buildMessagesChange({ inbound: [a, b, c] })]));
  assert.deepEqual(
    all.map((e) => e.kind === "message" && [e.waId, e.userId, e.profileName]),
    [["447700900001", null, "Ana"], ["447700900002", null, "Bruno"], [null, "BR.998877", "Carla"]],
  );
});

Deno.test("parseMetaWebhook() reads a system message that comes without a contacts array", () => {
  const { message } = buildInbound({ type: "system", name: null });
  const body = buildEnvelope([buildMessagesChange({})]);
  (body.entry[0].changes[0].value as Record<string, unknown>).messages = [message];
  const event = single(body, "message");
  assert.equal(event.waId, CUSTOMER_WA_ID);
  assert.equal(event.profileName, null);
  assert.equal((event.content as { new_wa_id: string }).new_wa_id, "16505550000");
});

Deno.test("parseMetaWebhook() accepts a numeric timestamp as the same instant", () => {
  const { contact, message } = buildInbound({ type: "text", at: AT });
  message.timestamp = AT.getTime() / 1000;
  const body = buildEnvelope([buildMessagesChange({ inbound: [{ contact, message }] })]);
  assert.equal(single(body, "message").timestamp, AT.toISOString());
});

Deno.test("parseMetaWebhook() turns any unix-seconds timestamp into the same ISO string as Date", () => {
  const { contact, message } = buildInbound({ type: "text" });
  const isoOf = (seconds: number) => {
    message.timestamp = String(seconds);
    const body = buildEnvelope([buildMessagesChange({ inbound: [{ contact, message }] })]);
    return single(body, "message").timestamp;
  };
  const edges = [0, 59, 86399, 951782400, 951868799, 4107542400, 253402300799, 253402300800];
  for (const seconds of edges) {
    assert.equal(isoOf(seconds), new Date(seconds * 1000).toISOString(), String(seconds));
  }
  fc.assert(
    fc.property(
      fc.oneof(
        fc.integer({ min: 0, max: 4_102_444_800 }),
        fc.integer({ min: 0, max: 999_999_999_999 }),
      ),
      (seconds) => assert.equal(isoOf(seconds), new Date(seconds * 1000).toISOString()),
    ),
    { numRuns: 2000 },
  );
});

Deno.test("parseMetaWebhook() reports a message with a timestamp that is not unix seconds as invalid", () => {
  for (const timestamp of ["2026-11-20T09:30:00Z", "-5", "1.5", "", null]) {
    const { contact, message } = buildInbound({ type: "text" });
    message.timestamp = timestamp;
    const body = buildEnvelope([buildMessagesChange({ inbound: [{ contact, message }] })]);
    assert.equal(single(body, "field").field, "messages.invalid", String(timestamp));
  }
});

// ---------------------------------------------------------------- statuses

const statusEvent = (opts: Parameters<typeof buildStatus>[0]) =>
  single(buildEnvelope([buildMessagesChange({ statuses: [buildStatus(opts)] })]), "status");

Deno.test("parseMetaWebhook() normalises a sent status with PMP pricing and our callback data", () => {
  const raw = buildStatus({
    id: "wamid.S1",
    status: "sent",
    at: AT,
    callback: "0b7c4a43-8f0e-4c7e-9d55-0e6f3a1b2c3d",
    conversationId: "b2a6e3c5f1d4",
  });
  const event = single(buildEnvelope([buildMessagesChange({ statuses: [raw] })]), "status");
  assert.deepEqual(event, {
    kind: "status",
    wabaId: WABA_ID,
    phoneNumberId: PHONE_NUMBER_ID,
    wamid: "wamid.S1",
    status: "sent",
    timestamp: "2026-11-20T09:30:00.000Z",
    recipientId: CUSTOMER_WA_ID,
    recipientUserId: null,
    bizOpaqueCallbackData: "0b7c4a43-8f0e-4c7e-9d55-0e6f3a1b2c3d",
    pricing: { billable: true, pricingModel: "PMP", category: "utility", type: "regular" },
    conversationId: "b2a6e3c5f1d4",
    errors: [],
    raw,
  });
});

Deno.test("parseMetaWebhook() reads a read status without pricing or conversation (v24+)", () => {
  const event = statusEvent({ status: "read" });
  assert.equal(event.status, "read");
  assert.equal(event.pricing, null);
  assert.equal(event.conversationId, null);
});

Deno.test("parseMetaWebhook() keeps a pricing category it has never seen", () => {
  const pricing = { pricing_model: "PMP", category: "marketing_lite", type: "free_entry_point" };
  assert.deepEqual(statusEvent({ status: "delivered", pricing }).pricing, {
    pricingModel: "PMP",
    category: "marketing_lite",
    type: "free_entry_point",
  });
});

Deno.test("parseMetaWebhook() reads a failed status's error code, title, message and details", () => {
  const event = statusEvent({
    status: "failed",
    errors: [buildError(131049, "Healthy ecosystem")],
  });
  assert.equal(event.status, "failed");
  assert.deepEqual(event.errors, [{
    code: 131049,
    title: "Message undeliverable",
    message: "Message undeliverable",
    details: "Healthy ecosystem",
  }]);
});

Deno.test("parseMetaWebhook() falls back to the message when an error has no title", () => {
  const event = statusEvent({
    status: "failed",
    errors: [{ code: 131026, message: "Undeliverable" }],
  });
  assert.deepEqual(event.errors, [{
    code: 131026,
    title: "Undeliverable",
    message: "Undeliverable",
  }]);
});

Deno.test("parseMetaWebhook() reads the BSUID of a status sent to a username user", () => {
  const event = statusEvent({
    status: "delivered",
    recipientId: null,
    recipientUserId: CUSTOMER_BSUID,
  });
  assert.equal(event.recipientId, null);
  assert.equal(event.recipientUserId, CUSTOMER_BSUID);
});

Deno.test("parseMetaWebhook() passes through a status value it does not know", () => {
  assert.equal(statusEvent({ status: "warning" }).status, "warning");
});

// ---------------------------------------------------------------- batches and fields

Deno.test("parseMetaWebhook() yields every event of 2 entries × 2 changes with several messages and statuses", () => {
  const phones = ["PN-A1", "PN-A2", "PN-B1", "PN-B2"];
  const change = (phoneNumberId: string) =>
    buildMessagesChange({
      phoneNumberId,
      inbound: [
        buildInbound({ type: "text", id: `${phoneNumberId}-m1` }),
        buildInbound({ type: "image", id: `${phoneNumberId}-m2` }),
        buildInbound({ type: "reaction", id: `${phoneNumberId}-m3` }),
      ],
      statuses: [
        buildStatus({ status: "sent", id: `${phoneNumberId}-s1` }),
        buildStatus({ status: "delivered", id: `${phoneNumberId}-s2` }),
      ],
    });
  const body = combineEnvelopes(
    buildEnvelope([change(phones[0]), change(phones[1])], { wabaId: "WABA-A" }),
    buildEnvelope([change(phones[2]), change(phones[3])], { wabaId: "WABA-B" }),
  );
  const all = events(body);
  assert.equal(all.length, 4 * 5);
  const ids = all.map((e) => (e as InboundMessageEvent | StatusEvent).wamid);
  assert.deepEqual(
    ids,
    phones.flatMap((p) => [`${p}-m1`, `${p}-m2`, `${p}-m3`, `${p}-s1`, `${p}-s2`]),
  );
  assert.deepEqual(
    all.map((e) => `${e.wabaId}/${e.phoneNumberId}/${e.kind}`).filter((_, i) => i % 5 === 0),
    [
      "WABA-A/PN-A1/message",
      "WABA-A/PN-A2/message",
      "WABA-B/PN-B1/message",
      "WABA-B/PN-B2/message",
    ],
  );
});

Deno.test("parseMetaWebhook() keeps the rest of a batch when one message is malformed", () => {
  const good1 = buildInbound({ type: "text", id: "wamid.G1" });
  const broken = buildInbound({ type: "image", id: "wamid.BAD", payload: { caption: "no id" } });
  const good2 = buildInbound({ type: "text", id: "wamid.G2" });
  const noId = buildInbound({ type: "text" });
  delete noId.message.id;
  const body = buildEnvelope([
    buildMessagesChange({
      inbound: [good1, broken, good2, noId],
      statuses: [buildStatus({ status: "sent", id: "wamid.S" }), { id: "wamid.NO_STATUS" }],
    }),
  ]);
  const all = events(body);
  assert.deepEqual(all.map((e) => e.kind === "field" ? e.field : e.kind), [
    "message",
    "messages.invalid",
    "message",
    "messages.invalid",
    "status",
    "statuses.invalid",
  ]);
  const invalid = all[1] as FieldEvent;
  assert.equal(invalid.phoneNumberId, PHONE_NUMBER_ID);
  assert.deepEqual((invalid.value as { message: unknown }).message, broken.message);
  assert.match((invalid.value as { reason: string }).reason, /image: id/);
});

Deno.test("parseMetaWebhook() rejects a body that is not a WhatsApp Business Account envelope", () => {
  const bodies: unknown[] = [
    { object: "page", entry: [] },
    { object: "instagram", entry: [{ id: "1", changes: [] }] },
    { entry: [] },
    { object: "whatsapp_business_account" },
    { object: "whatsapp_business_account", entry: {} },
    null,
    "whatsapp_business_account",
    [],
    42,
  ];
  for (const body of bodies) {
    const result = parseMetaWebhook(body);
    assert.equal(result.ok, false, JSON.stringify(body));
    if (!result.ok) assert.ok(result.error.length > 0);
  }
  const page = parseMetaWebhook({ object: "page", entry: [] });
  assert.ok(!page.ok && page.error.includes('"page"'));
});

Deno.test("parseMetaWebhook() reports fields other than messages as field events", () => {
  const template = {
    field: "message_template_status_update",
    value: {
      event: "APPROVED",
      message_template_id: 1187346925798541,
      message_template_name: "order_update",
      message_template_language: "en_US",
      reason: "NONE",
    },
  };
  const quality = {
    field: "phone_number_quality_update",
    value: {
      display_phone_number: DISPLAY_PHONE_NUMBER,
      event: "FLAGGED",
      current_limit: "TIER_2K",
    },
  };
  const account = {
    field: "account_update",
    value: { phone_number: DISPLAY_PHONE_NUMBER, event: "VERIFIED_ACCOUNT" },
  };
  const all = events(buildEnvelope([template, quality, account]));
  assert.deepEqual(all, [
    { kind: "field", wabaId: WABA_ID, phoneNumberId: null, ...template },
    { kind: "field", wabaId: WABA_ID, phoneNumberId: null, ...quality },
    { kind: "field", wabaId: WABA_ID, phoneNumberId: null, ...account },
  ]);
});

Deno.test("parseMetaWebhook() reports a messages change with only errors as a field event", () => {
  const change = buildMessagesChange({ errors: [buildError(131000, "Something went wrong")] });
  const event = single(buildEnvelope([change]), "field");
  assert.equal(event.field, "messages");
  assert.equal(event.phoneNumberId, PHONE_NUMBER_ID);
  assert.deepEqual(event.value, change.value);
});

Deno.test("parseMetaWebhook() keeps going past a malformed entry or change", () => {
  const good = buildMessagesChange({ inbound: [buildInbound({ type: "text", id: "wamid.OK" })] });
  const body = {
    object: "whatsapp_business_account",
    entry: [
      { id: "WABA-1", changes: "not an array" },
      { id: "WABA-2", changes: [{ value: {} }, good, "junk"] },
      { id: 7, changes: [good] },
    ],
  };
  const all = events(body);
  assert.deepEqual(all.map((e) => `${e.wabaId}:${e.kind === "field" ? e.field : e.kind}`), [
    "WABA-1:entry.invalid",
    "WABA-2:changes.invalid",
    "WABA-2:message",
    "WABA-2:changes.invalid",
    "7:message",
  ]);
});

Deno.test("parseMetaWebhook() never throws, whatever sits inside a WhatsApp envelope", () => {
  const item = fc.oneof(
    fc.jsonValue(),
    fc.record({ field: fc.constantFrom("messages", "account_update"), value: fc.jsonValue() }),
    fc.record({
      field: fc.constant("messages"),
      value: fc.record({
        metadata: fc.record({ display_phone_number: fc.string(), phone_number_id: fc.string() }),
        messages: fc.array(fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue()))),
        statuses: fc.array(fc.jsonValue()),
      }),
    }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.jsonValue(), fc.record({ id: fc.string(), changes: fc.array(item) }))),
      (entry) => {
        const result = parseMetaWebhook({ object: "whatsapp_business_account", entry });
        assert.equal(result.ok, true);
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(fc.property(fc.jsonValue(), (body) => void parseMetaWebhook(body)));
});

Deno.test("parseMetaWebhook() reports a messages change without metadata as messages.invalid", () => {
  const value = {
    messaging_product: "whatsapp",
    messages: [buildInbound({ type: "text" }).message],
  };
  const event = single(buildEnvelope([{ field: "messages", value }]), "field");
  assert.equal(event.field, "messages.invalid");
  assert.equal(event.phoneNumberId, null);
  assert.deepEqual((event.value as { value: unknown }).value, value);
  assert.match((event.value as { reason: string }).reason, /metadata/);
});

// ---------------------------------------------------------------- the fast path and zod agree

/** A batch with every message type, status shape and change kind the parser tells apart. */
function richBatch() {
  const types = [...Object.keys(SAMPLE_PAYLOADS), "request_welcome", "poll_vote"];
  const inbound = [
    ...types.map((type) => buildInbound({ type })),
    buildInbound({ type: "interactive", payload: INTERACTIVE_SAMPLES.list_reply }),
    buildInbound({ type: "interactive", payload: INTERACTIVE_SAMPLES.nfm_reply }),
    buildInbound({ type: "text", waId: null, userId: CUSTOMER_BSUID, fromUserId: true }),
    buildInbound({ type: "text", waId: null, userId: CUSTOMER_BSUID, name: "Ana" }),
    buildInbound({
      type: "text",
      context: { from: DISPLAY_PHONE_NUMBER, id: "wamid.Q", forwarded: true },
      referral: { source_url: "https://fb.me/x", source_type: "ad", ctwa_clid: "ARAk" },
      errors: [buildError(131051, "Message type is currently not supported.")],
    }),
  ];
  const statuses = [
    buildStatus({ status: "sent", callback: "our-id", conversationId: "c0ffee" }),
    buildStatus({ status: "delivered" }),
    buildStatus({ status: "read" }),
    buildStatus({ status: "failed", errors: [buildError(131049, "Healthy ecosystem")] }),
    buildStatus({ status: "delivered", recipientId: null, recipientUserId: CUSTOMER_BSUID }),
  ];
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: WABA_ID,
        changes: [
          buildMessagesChange({ inbound, statuses }),
          { field: "account_update", value: { event: "VERIFIED_ACCOUNT" } },
          buildMessagesChange({ errors: [buildError(131000, "Something went wrong")] }),
        ],
      },
      { id: 7, changes: [buildMessagesChange({ inbound: [buildInbound({ type: "text" })] })] },
    ],
  };
}

Deno.test("parseMetaWebhook() reads a rich batch without a single event set aside", () => {
  const all = events(richBatch());
  assert.equal(all.filter((e) => e.kind === "message").length, 22);
  assert.equal(all.filter((e) => e.kind === "status").length, 5);
  assert.deepEqual(all.filter((e) => e.kind === "field").map((e) => e.field), [
    "account_update",
    "messages",
  ]);
});

Deno.test("parseMetaWebhook() does not run zod on a batch its checks accept", () => {
  const schemas = [
    envelopeSchema,
    entrySchema,
    changeSchema,
    messagesValueSchema,
    contactSchema,
    inboundMessageSchema,
    statusSchema,
    ...Object.values(INBOUND_PAYLOAD_SCHEMAS),
  ];
  let calls = 0;
  const originals = schemas.map((schema) => schema.safeParse);
  schemas.forEach((schema, i) => {
    schema.safeParse =
      ((value: unknown) => (calls++, originals[i](value))) as typeof schema.safeParse;
  });
  try {
    events(richBatch());
    assert.equal(calls, 0);
    parseMetaWebhookWithZod(richBatch());
    assert.ok(calls > 30, "the spy sees zod when it runs");
  } finally {
    schemas.forEach((schema, i) => schema.safeParse = originals[i]);
  }
});

Deno.test("parseMetaWebhook() gives the zod-only walk's result for every one-field change of a rich batch", () => {
  const batch = richBatch();
  assert.deepEqual(parseMetaWebhook(batch), parseMetaWebhookWithZod(batch));
  let invalid = 0;
  for (const [label, variant] of variantsOf(batch)) {
    const fast = parseMetaWebhook(variant);
    assert.deepEqual(fast, parseMetaWebhookWithZod(variant), label);
    if (!fast.ok || fast.events.some((e) => e.kind === "field" && e.field.endsWith(".invalid"))) {
      invalid++;
    }
  }
  assert.ok(invalid > 1000, `only ${invalid} variants were invalid`);
});

Deno.test("parseMetaWebhook() gives the zod-only walk's result when several fields change at once", () => {
  const batch = richBatch();
  const paths = pathsOf(batch);
  const change = fc.tuple(
    fc.integer({ min: 0, max: paths.length - 1 }),
    fc.oneof(fc.constant(ABSENT), fc.constantFrom(...ODD_VALUES), fc.jsonValue()),
  );
  fc.assert(
    fc.property(fc.array(change, { minLength: 1, maxLength: 6 }), (changes) => {
      let variant: unknown = batch;
      for (const [at, to] of changes) variant = withValueAt(variant, paths[at], to);
      assert.deepEqual(parseMetaWebhook(variant), parseMetaWebhookWithZod(variant));
    }),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------- bounded work per delivery

/** Counts zod's runs over every schema the walk may ask, while `run` runs. */
function zodRuns(run: () => void): number {
  const schemas = [
    envelopeSchema,
    entrySchema,
    changeSchema,
    messagesValueSchema,
    contactSchema,
    inboundMessageSchema,
    statusSchema,
    ...Object.values(INBOUND_PAYLOAD_SCHEMAS),
  ];
  let calls = 0;
  const originals = schemas.map((schema) => schema.safeParse);
  schemas.forEach((schema, i) => {
    schema.safeParse =
      ((value: unknown) => (calls++, originals[i](value))) as typeof schema.safeParse;
  });
  try {
    run();
  } finally {
    schemas.forEach((schema, i) => schema.safeParse = originals[i]);
  }
  return calls;
}

Deno.test("parseMetaWebhook() keeps the first invalid items of a delivery and counts the rest per number", () => {
  const valid = (n: number) => buildInbound({ type: "text", id: `wamid.V${n}` });
  const junk = (n: number) => ({ junk: n });
  const messages = (phoneNumberId: string, bad: number) => {
    const change = buildMessagesChange({
      phoneNumberId,
      inbound: [valid(1), valid(2)],
      statuses: [buildStatus({ status: "sent", id: `wamid.S-${phoneNumberId}` })],
    });
    const value = change.value as { messages: unknown[]; statuses: unknown[] };
    // junk around and between the valid items: none of them may cost a valid one
    value.messages = [
      junk(0),
      value.messages[0],
      ...Array.from({ length: bad }, (_, i) => junk(i)),
      value.messages[1],
    ];
    value.statuses = [...value.statuses, ...Array.from({ length: bad }, (_, i) => junk(i))];
    return change;
  };
  const body = buildEnvelope([messages("PN-A", 150), messages("PN-B", 20), {
    field: "messages",
    value: 42,
  }]);
  const all = events(body);
  assert.equal(all.filter((e) => e.kind === "message").length, 4);
  assert.equal(all.filter((e) => e.kind === "status").length, 2);
  const invalid = all.filter((e) => e.kind === "field" && e.field.endsWith(".invalid"));
  assert.equal(invalid.length, MAX_INVALID_ITEMS_KEPT);
  for (const e of invalid) {
    assert.ok((e as FieldEvent & { value: { reason: string } }).value.reason);
  }
  const summaries = all.filter((e) => e.kind === "field" && e.field === OMITTED_FIELD);
  // A: 1 + 150 messages, 150 statuses (the first 100 kept); B: 1 + 20 and 20; then 42
  assert.deepEqual(
    summaries.map((e) => [e.phoneNumberId, (e as FieldEvent).value]),
    [
      ["PN-A", {
        reason: "Over 100 invalid items in one delivery: the rest are counted, not kept",
        omitted: { "messages.invalid": 51, "statuses.invalid": 150 },
      }],
      ["PN-B", {
        reason: "Over 100 invalid items in one delivery: the rest are counted, not kept",
        omitted: { "messages.invalid": 21, "statuses.invalid": 20 },
      }],
      [null, {
        reason: "Over 100 invalid items in one delivery: the rest are counted, not kept",
        omitted: { "messages.invalid": 1 },
      }],
    ],
  );
  assert.deepEqual(parseMetaWebhookWithZod(body), parseMetaWebhook(body));
});

Deno.test("parseMetaWebhook() runs zod on at most the kept invalid items of a million-item delivery", () => {
  // what a probe sent: a signed 3 MB body whose messages array held a million tiny invalid items
  const text = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":` +
    `"messages","value":{"metadata":{"display_phone_number":"1","phone_number_id":"2"},` +
    `"messages":[${new Array(1_000_000).fill("0").join(",")}]}}]}]}`;
  assert.ok(text.length < 3 * 1024 * 1024);
  const body = JSON.parse(text);
  let all: MetaEvent[] = [];
  const calls = zodRuns(() => all = events(body));
  assert.ok(calls <= MAX_INVALID_ITEMS_KEPT, `zod ran ${calls} times`);
  assert.equal(all.length, MAX_INVALID_ITEMS_KEPT + 1);
  assert.deepEqual((all.at(-1) as FieldEvent).value, {
    reason: "Over 100 invalid items in one delivery: the rest are counted, not kept",
    omitted: { "messages.invalid": 1_000_000 - MAX_INVALID_ITEMS_KEPT },
  });
});

Deno.test("parseMetaWebhook() keeps at most 100 summaries however many numbers the junk names", () => {
  const changes = Array.from({ length: 400 }, (_, i) => ({
    field: "messages",
    value: { metadata: { display_phone_number: "1", phone_number_id: `PN-${i}` }, statuses: [0] },
  }));
  const all = events(buildEnvelope(changes));
  const summaries = all.filter((e) => e.kind === "field" && e.field === OMITTED_FIELD);
  assert.equal(summaries.length, 101);
  const rest = summaries.at(-1) as FieldEvent;
  assert.equal(rest.phoneNumberId, null);
  assert.equal(rest.wabaId, "");
  assert.deepEqual((rest.value as { omitted: unknown }).omitted, {
    "statuses.invalid": 400 - MAX_INVALID_ITEMS_KEPT - 100,
  });
});

Deno.test("parseMetaWebhook() finds each message's contact without reading every contact per message", () => {
  const n = 400;
  let reads = 0;
  const counted = (contact: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(contact)) {
      Object.defineProperty(out, key, {
        enumerable: true,
        get: () => (reads++, value),
      });
    }
    return out;
  };
  const inbound = Array.from(
    { length: n },
    (_, i) => buildInbound({ type: "text", waId: String(10_000_000 + i), name: `N${i}` }),
  );
  // read in reverse, so pairing by position would give every message the wrong contact
  const change = buildMessagesChange({ inbound });
  const value = change.value as { contacts: Record<string, unknown>[] };
  value.contacts = value.contacts.map(counted).reverse();
  const all = events(buildEnvelope([change])) as InboundMessageEvent[];
  assert.deepEqual(all.map((e) => e.profileName), inbound.map((_, i) => `N${i}`));
  assert.ok(reads < 10 * n, `${reads} reads of contact fields for ${n} messages`);
});

Deno.test("parseMetaWebhook() takes the first contact naming either of a message's ids", () => {
  const a = buildInbound({ type: "text", waId: "19990000001", userId: "US.1", name: "first" });
  const change = buildMessagesChange({ inbound: [a] });
  const value = change.value as { contacts: unknown[] };
  value.contacts = [
    { wa_id: "19990000002", profile: { name: "other" } },
    { user_id: "US.1", profile: { name: "by user id" } },
    { wa_id: "19990000001", profile: { name: "by phone" } },
    { wa_id: "19990000001", user_id: "US.1", profile: { name: "both" } },
  ];
  (a.message as Record<string, unknown>).from_user_id = "US.1";
  const [event] = events(buildEnvelope([change])) as InboundMessageEvent[];
  assert.equal(event.profileName, "by user id");
});

Deno.test("metaEnvelopeProblem() and metaWebhookEvents() are parseMetaWebhook() in two steps", () => {
  const batch = richBatch();
  assert.equal(metaEnvelopeProblem(batch), null);
  assert.deepEqual([...metaWebhookEvents(batch)], events(batch));
  assert.match(metaEnvelopeProblem({ object: "page", entry: [] })!, /"page"/);
  assert.match(metaEnvelopeProblem({ object: "whatsapp_business_account" })!, /envelope/);
});

Deno.test("metaRouteKey() is the first change's phone number id, else the first entry's WABA id", () => {
  assert.equal(metaRouteKey(richBatch()), PHONE_NUMBER_ID);
  const account = buildEnvelope([{ field: "account_update", value: { event: "X" } }]);
  assert.equal(metaRouteKey(account), WABA_ID);
  assert.equal(metaRouteKey({ object: "whatsapp_business_account", entry: [{ id: 7 }] }), "7");
  assert.equal(metaRouteKey({ object: "whatsapp_business_account", entry: [] }), null);
  assert.equal(metaRouteKey({ object: "whatsapp_business_account", entry: [0] }), null);
  const long = buildEnvelope([buildMessagesChange({ phoneNumberId: "9".repeat(65) })]);
  assert.equal(metaRouteKey(long), WABA_ID);
  assert.equal(metaRouteKey(buildEnvelope([], { wabaId: "9".repeat(65) })), null);
});
