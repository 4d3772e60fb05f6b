import assert from "node:assert/strict";
import fc from "fast-check";
import * as z from "zod";
import * as checks from "../../../src/core/whatsapp/webhook_checks.ts";
import * as schemas from "../../../src/core/whatsapp/webhook_payload.ts";
import {
  buildError,
  buildInbound,
  buildMessagesChange,
  buildStatus,
  CUSTOMER_BSUID,
  INTERACTIVE_SAMPLES,
  SAMPLE_PAYLOADS,
} from "../../_support/meta_payloads.ts";
import {
  ABSENT,
  ODD_VALUES,
  type Path,
  pathsOf,
  variantsOf,
  withValueAt,
} from "../../_support/json_variants.ts";

// Full samples: every field each schema declares is present, so every field gets changed below.
const FULL_CONTACT = {
  wa_id: "16505551234",
  user_id: CUSTOMER_BSUID,
  parent_user_id: "US.ENT.1",
  profile: { name: "Ana", username: "ana" },
};
const FULL_ERROR = buildError(131049, "Healthy ecosystem");
const FULL_CONTEXT = {
  id: "wamid.Q",
  from: "15550783881",
  forwarded: true,
  frequently_forwarded: false,
  referred_product: { catalog_id: "194836987003835", product_retailer_id: "di9ozbzfi4" },
};
const FULL_REFERRAL = {
  source_url: "https://fb.me/3cr4Wqqkv",
  source_id: "120226305854810726",
  source_type: "ad",
  headline: "Spring sale",
  body: "20% off",
  media_type: "image",
  ctwa_clid: "ARAkLkA8rmlFeiCktEJQ",
};
/** quantity and price may be numbers (as in SAMPLE_PAYLOADS) or strings */
const PRICED_AS_TEXT = {
  product_retailer_id: "di9ozbzfi4",
  quantity: "2",
  item_price: "30.00",
  currency: "USD",
};
const URL = { url: "https://lookaside.fbsbx.com/x" };
const FULL_PAYLOADS: Record<schemas.InboundMessageType, unknown> = {
  text: SAMPLE_PAYLOADS.text,
  image: { ...SAMPLE_PAYLOADS.image as object, ...URL },
  video: { ...SAMPLE_PAYLOADS.video as object, ...URL },
  audio: { ...SAMPLE_PAYLOADS.audio as object, ...URL },
  document: { ...SAMPLE_PAYLOADS.document as object, ...URL },
  sticker: { ...SAMPLE_PAYLOADS.sticker as object, ...URL },
  location: SAMPLE_PAYLOADS.location,
  contacts: SAMPLE_PAYLOADS.contacts,
  // one object carrying every kind of reply, so each one's fields are changed
  interactive: {
    ...INTERACTIVE_SAMPLES.button_reply as object,
    list_reply: INTERACTIVE_SAMPLES.list_reply.list_reply,
    nfm_reply: INTERACTIVE_SAMPLES.nfm_reply.nfm_reply,
  },
  button: SAMPLE_PAYLOADS.button,
  reaction: SAMPLE_PAYLOADS.reaction,
  order: { ...SAMPLE_PAYLOADS.order as object, product_items: [PRICED_AS_TEXT] },
  system: {
    ...SAMPLE_PAYLOADS.system as object,
    wa_id: "1",
    user_id: "US.2",
    previous_user_id: "x",
  },
  request_welcome: {},
  unsupported: SAMPLE_PAYLOADS.unsupported,
};
const FULL_MESSAGE = {
  ...buildInbound({ type: "text", context: FULL_CONTEXT, referral: FULL_REFERRAL }).message,
  from_user_id: CUSTOMER_BSUID,
  from_parent_user_id: "US.ENT.1",
  errors: [FULL_ERROR],
};
const FULL_PRICING = { billable: true, pricing_model: "PMP", category: "utility", type: "regular" };
const FULL_CONVERSATION = { id: "c0ffee", origin: { type: "utility" } };
const FULL_STATUS = {
  ...buildStatus({ status: "failed", callback: "cb", conversationId: "c0ffee" }),
  recipient_user_id: CUSTOMER_BSUID,
  recipient_parent_user_id: "US.ENT.1",
  recipient_type: "individual",
  pricing: FULL_PRICING,
  errors: [FULL_ERROR],
};
const FULL_VALUE = {
  ...buildMessagesChange({ inbound: [buildInbound({ type: "text" })] }).value as {
    metadata: unknown;
  },
  statuses: [buildStatus({ status: "read" })],
  errors: [FULL_ERROR],
};
const FULL_CHANGE = { field: "messages", value: FULL_VALUE };
const FULL_ENTRY = { id: "102290129340398", changes: [FULL_CHANGE] };

type Twin = [name: string, check: (value: unknown) => boolean, schema: z.ZodType, full: unknown];

const TWINS: Twin[] = [
  ["envelope", checks.isEnvelope, schemas.envelopeSchema, {
    object: schemas.WHATSAPP_OBJECT,
    entry: [FULL_ENTRY],
  }],
  ["entry", checks.isEntry, schemas.entrySchema, FULL_ENTRY],
  ["change", checks.isChange, schemas.changeSchema, FULL_CHANGE],
  ["metadata", checks.isMetadata, schemas.metadataSchema, FULL_VALUE.metadata],
  ["messagesValue", checks.isMessagesValue, schemas.messagesValueSchema, FULL_VALUE],
  ["contact", checks.isContact, schemas.contactSchema, FULL_CONTACT],
  ["metaError", checks.isMetaError, schemas.metaErrorSchema, FULL_ERROR],
  ["context", checks.isContext, schemas.contextSchema, FULL_CONTEXT],
  ["referral", checks.isReferral, schemas.referralSchema, FULL_REFERRAL],
  ["inboundMessage", checks.isInboundMessage, schemas.inboundMessageSchema, FULL_MESSAGE],
  ["pricing", checks.isPricing, schemas.pricingSchema, FULL_PRICING],
  ["conversation", checks.isConversation, schemas.conversationSchema, FULL_CONVERSATION],
  ["status", checks.isStatus, schemas.statusSchema, FULL_STATUS],
  ...schemas.INBOUND_MESSAGE_TYPES.map((type): Twin => [
    `${type} payload`,
    checks.INBOUND_PAYLOAD_CHECKS[type],
    schemas.INBOUND_PAYLOAD_SCHEMAS[type],
    FULL_PAYLOADS[type],
  ]),
];

/** Every field path a schema declares ("errors.0.code"), wrappers and unions looked through. */
function declaredPaths(schema: z.ZodType, prefix: Path = []): Path[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return declaredPaths(schema.unwrap() as z.ZodType, prefix);
  }
  if (schema instanceof z.ZodPipe) return declaredPaths(schema.in as z.ZodType, prefix);
  if (schema instanceof z.ZodUnion) {
    return (schema.options as z.ZodType[]).flatMap((option) => declaredPaths(option, prefix));
  }
  if (schema instanceof z.ZodArray) {
    return declaredPaths(schema.unwrap() as z.ZodType, [...prefix, 0]);
  }
  if (schema instanceof z.ZodObject) {
    return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, field]) => {
      const path = [...prefix, key];
      return [path, ...declaredPaths(field, path)];
    });
  }
  return [];
}

const holds = (value: unknown, path: Path): boolean =>
  path.length === 0 || (typeof value === "object" && value !== null && path[0] in value &&
    holds((value as Record<string | number, unknown>)[path[0]], path.slice(1)));

function assertAgrees([name, check, schema]: Twin, value: unknown, label: string) {
  const expected = schema.safeParse(value).success;
  assert.equal(check(value), expected, `${name}: ${label}: zod says ${expected ? "valid" : "not"}`);
}

Deno.test("every check accepts its full sample, which holds every field its schema declares", () => {
  for (const [name, check, schema, full] of TWINS) {
    assert.ok(schema.safeParse(full).success, `${name}: the sample is valid`);
    assert.ok(check(full), `${name}: the check accepts the sample`);
    for (const path of declaredPaths(schema)) {
      assert.ok(holds(full, path), `${name}: the sample lacks ${path.join(".")}`);
    }
  }
});

Deno.test("INBOUND_PAYLOAD_CHECKS has a check for exactly the types INBOUND_PAYLOAD_SCHEMAS knows", () => {
  assert.deepEqual(
    Object.keys(checks.INBOUND_PAYLOAD_CHECKS).sort(),
    Object.keys(schemas.INBOUND_PAYLOAD_SCHEMAS).sort(),
  );
});

for (const twin of TWINS) {
  Deno.test(`the ${twin[0]} check agrees with zod on every one-field change of a full sample`, () => {
    for (const odd of ODD_VALUES) assertAgrees(twin, odd, `the whole value ${Deno.inspect(odd)}`);
    for (const [label, variant] of variantsOf(twin[3])) assertAgrees(twin, variant, label);
  });
}

Deno.test("every check agrees with zod when several fields change at once", () => {
  const twinAndChanges = fc.integer({ min: 0, max: TWINS.length - 1 }).chain((index) => {
    const paths = pathsOf(TWINS[index][3]);
    const change = fc.tuple(
      fc.integer({ min: 0, max: Math.max(0, paths.length - 1) }),
      fc.oneof(fc.constant(ABSENT), fc.constantFrom(...ODD_VALUES), fc.jsonValue()),
    );
    return fc.tuple(fc.constant(index), fc.array(change, { minLength: 1, maxLength: 4 }));
  });
  fc.assert(
    fc.property(twinAndChanges, ([index, changes]) => {
      const paths = pathsOf(TWINS[index][3]);
      let value = TWINS[index][3];
      for (const [at, to] of changes) if (paths.length) value = withValueAt(value, paths[at], to);
      assertAgrees(TWINS[index], value, Deno.inspect(changes));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("isUnixSeconds() agrees with unixSecondsSchema on digit strings and numbers", () => {
  const edges: unknown[] = [
    ...ODD_VALUES,
    "0",
    "000000000000",
    "999999999999",
    "1000000000000",
    "17e8",
    " 1700000000",
    "1700000000\n",
    "１７", // fullwidth digits are not \d
    "-1",
    1.0,
    1700000000,
    Number.MAX_SAFE_INTEGER,
    -1e-9,
  ];
  for (const value of edges) {
    assert.equal(
      checks.isUnixSeconds(value),
      schemas.unixSecondsSchema.safeParse(value).success,
      Deno.inspect(value),
    );
  }
  fc.assert(
    fc.property(
      fc.oneof(fc.stringMatching(/^[0-9]{0,14}$/), fc.string(), fc.double(), fc.integer()),
      (value) =>
        assert.equal(
          checks.isUnixSeconds(value),
          schemas.unixSecondsSchema.safeParse(value).success,
        ),
    ),
    { numRuns: 2000 },
  );
});
