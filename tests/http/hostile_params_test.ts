/**
 * Path and query values an attacker chooses never reach PostgREST or PostgreSQL unchecked: every
 * /v1 route (read from the app's own OpenAPI document, so a new route is covered without editing
 * this file) answers hostile path and query values with a documented 4xx in the error envelope,
 * never a 5xx. Seeded: FC_SEED=<n> replays a run; a failure prints the seed and the request.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { appUnderTest, bearer, clientWithKey, type Json } from "../_support/app.ts";
import { recordFigures } from "../_support/reliability.ts";
import { sql } from "../_support/stack.ts";
import { base64Encode } from "../../src/core/crypto/hmac.ts";

const SEED = Number(Deno.env.get("FC_SEED") ?? 20261202);
const RUNS = Number(Deno.env.get("FC_RUNS") ?? 600);

/** A body each route that takes one accepts, so the path and query values decide the answer. */
const VALID_BODIES: Record<string, unknown> = {
  "POST /v1/messages": { to: "+447700900123", type: "text", text: { body: "hi" } },
  "PUT /v1/contacts/{contact}/consent": { status: "opted_in", source: "probe" },
  "POST /v1/api-keys": { name: "probe", scopes: ["messages:read"] },
  "POST /v1/webhook-endpoints": { url: "https://example.com/hook" },
  "PATCH /v1/webhook-endpoints/{id}": { description: "probe" },
  "POST /v1/webhook-endpoints/{id}/recover": { since: "2026-01-01T00:00:00Z" },
  "PUT /v1/plugins/{plugin}": { enabled: true },
  "POST /v1/templates": {
    name: "probe_template",
    language: "en_US",
    category: "UTILITY",
    components: [{ type: "BODY", text: "A probe." }],
  },
  "POST /v1/privacy/requests": {
    type: "access",
    subject: { phone: "+447700900123" },
    verification: { method: "client_attestation", attested_by: "probe" },
  },
};

/** Well-formed values, so hostile values in the other parameters reach the deeper code. */
const VALID_VALUES: Record<string, string[]> = {
  id: [crypto.randomUUID()],
  contact: ["+447700900123", crypto.randomUUID(), "US.13491208655302741918"],
  status: ["sent", "received", "APPROVED", "completed"],
  category: ["UTILITY"],
  language: ["en_US"],
  name: ["order_update"],
  waba_id: ["102290129340398"],
  direction: ["inbound"],
  dead_letter: ["true", "false"],
  since: ["2026-01-01T00:00:00Z"],
  until: ["2030-01-01T00:00:00+14:00"],
  limit: ["1", "200"],
  offset: ["0", "1000000"],
  consent: ["opted_out"],
  field: ["account_update"],
  before: ["1", String(Number.MAX_SAFE_INTEGER), "2026-01-01T00:00:00Z"],
  plugin: ["opt-out"],
};

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  documented: Set<number>;
  body: unknown;
}

async function operations(call: Awaited<ReturnType<typeof appUnderTest>>["call"]) {
  const doc = (await call("/openapi.json")).body as Json;
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    if (!path.startsWith("/v1/")) continue;
    for (const [method, op] of Object.entries<Json>(item)) {
      const key = `${method.toUpperCase()} ${path}`;
      const params: Json[] = op.parameters ?? [];
      if (op.requestBody && !(key in VALID_BODIES)) {
        throw new Error(`${key} takes a body: add a valid one to VALID_BODIES`);
      }
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: params.filter((p) => p.in === "query").map((p) => p.name),
        documented: new Set(Object.keys(op.responses).map(Number)),
        body: VALID_BODIES[key],
      });
    }
  }
  return ops;
}

// ---- hostile values -------------------------------------------------------------------------

const chars = (set: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...set), minLength: min, maxLength: max });

/** 36 characters that look like a UUID to a loose check: dashes, hex, and near-hex */
const uuidShaped = fc.oneof(
  chars("0123456789abcdefABCDEF-", 36, 36),
  fc.constant("-".repeat(36)),
  fc.tuple(...[8, 4, 4, 4, 12].map((n) => chars("0123456789abcdefgz{} -", n, n)))
    .map((parts) => parts.join("-")),
  fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] }),
  fc.uuid().map((u) => `{${u}}`),
  fc.uuid().map((u) => u.replaceAll("-", "")),
);

const pad = (n: number, width: number) => String(n).padStart(width, "0");
/** times PostgreSQL may refuse: year 0, beyond 9999, impossible dates, offsets past ±15:59 */
const timeShaped = fc.oneof(
  fc.tuple(
    fc.integer({ min: 0, max: 99999 }),
    fc.integer({ min: 0, max: 19 }),
    fc.integer({ min: 0, max: 39 }),
    fc.integer({ min: 0, max: 29 }),
    fc.constantFrom("Z", "+", "-", ""),
    fc.integer({ min: 0, max: 99 }),
    fc.constantFrom("", ".9", ".999999999999"),
  ).map(([y, mo, d, h, sign, off, frac]) =>
    `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:00:00${frac}${
      sign === "Z" || sign === "" ? sign : `${sign}${pad(off, 2)}:${pad(off % 60, 2)}`
    }`
  ),
  // Date.parse accepts these, and they hold commas and parentheses
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.date({ noInvalidDate: true }).map((d) => `${d.toISOString()} (x),id.gt.0`),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);

const numberShaped = fc.oneof(
  fc.integer().map(String),
  fc.bigInt().map(String),
  fc.double().map(String),
  fc.constantFrom("NaN", "Infinity", "-0", "0x10", "1e400", "", " 1", "+1", "01", "1.5", "-1"),
);

/** PostgREST's own syntax, SQL and encodings that confuse a naive parser */
const syntax = fc.constantFrom(
  ",",
  "(",
  ")",
  '"',
  "\\",
  ".",
  "*",
  "%",
  "eq.1",
  "not.is.null",
  "or=(id.eq.1)",
  "id.lt.0,and(x)",
  "a,b)",
  "null",
  "' or 1=1 --",
  "\u0000",
  "\ud800",
  "a\udfff",
  "\u202e",
  "__proto__",
  "constructor",
);

const oldStyleCursor = fc.tuple(
  fc.oneof(timeShaped, fc.constant("2026-12-01T15:07:39Z")),
  uuidShaped,
)
  .map(([t, id]) => base64Encode(`${t}|${id}`).replaceAll("=", ""));
const tokenShaped = fc.tuple(fc.base64String(), fc.base64String())
  .map(([a, b]) => `${a}.${b}`.replaceAll("+", "-").replaceAll("/", "_"));

const hostileText = fc.oneof(
  { weight: 3, arbitrary: uuidShaped },
  { weight: 3, arbitrary: timeShaped },
  { weight: 2, arbitrary: numberShaped },
  { weight: 3, arbitrary: syntax },
  { weight: 2, arbitrary: oldStyleCursor },
  { weight: 1, arbitrary: tokenShaped },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 100, maxLength: 3000 }) },
  { weight: 1, arbitrary: chars("+0123456789 ()-.", 1, 40) },
);
const hostile = fc.oneof(
  { weight: 5, arbitrary: hostileText },
  {
    weight: 1,
    arbitrary: fc.array(hostileText, { minLength: 2, maxLength: 3 }).map((a) => a.join("")),
  },
);

/** Percent-encoding that survives lone surrogates (as the WTF-8 bytes a client could send) */
function encode(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    } else out += encodeURIComponent(ch);
  }
  return out;
}
/** raw percent sequences a client can put in a URL that do not decode to text */
const rawEscapes = fc.constantFrom("%", "%zz", "%E0%A4%A", "%00", "%2F", "%C0%AF", "%FF", "%2e%2e");

const paramValue = (name: string) =>
  fc.oneof(
    { weight: 6, arbitrary: hostile.map(encode) },
    { weight: 1, arbitrary: rawEscapes },
    { weight: 2, arbitrary: fc.constantFrom(...(VALID_VALUES[name] ?? ["x"])).map(encode) },
  );

function request(ops: Operation[]) {
  return fc.integer({ min: 0, max: ops.length - 1 }).chain((i) => {
    const op = ops[i];
    const path = fc.tuple(...op.pathParams.map((p) => paramValue(p))).map((values) =>
      op.pathParams.reduce((path, name, k) => path.replace(`{${name}}`, values[k]), op.path)
    );
    const query = fc.tuple(
      ...op.queryParams.map((name) =>
        fc.oneof(
          fc.constant([] as string[]),
          paramValue(name).map((v) => [`${name}=${v}`]),
          fc.tuple(paramValue(name), paramValue(name)).map((
            [a, b],
          ) => [`${name}=${a}`, `${name}=${b}`]),
        )
      ),
      fc.array(fc.tuple(hostile.map(encode), hostile.map(encode)), { maxLength: 2 })
        .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`)),
    ).map((parts) => parts.flat().join("&"));
    return fc.tuple(fc.constant(op), path, query);
  });
}

function assertDocumented4xx(op: Operation, url: string, res: { status: number; body: Json }) {
  const what = `${op.method} ${url} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
  assert.ok(res.status < 500, what);
  if (res.status < 400) return;
  const error = res.body?.error;
  assert.equal(typeof error?.code, "string", `envelope: ${what}`);
  assert.match(error.message ?? "", /^[A-Z]/, `sentence-case message: ${what}`);
  assert.equal(typeof error.request_id, "string", `request_id: ${what}`);
  const unrouted = res.status === 404 && error.message.startsWith("No route for");
  assert.ok(op.documented.has(res.status) || unrouted, `undocumented status: ${what}`);
}

Deno.test("every /v1 route answers hostile path and query values with a documented 4xx envelope, never a 5xx", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey();
  const ops = await operations(call);
  assert.ok(ops.length >= 20, `only ${ops.length} /v1 operations found in /openapi.json`);
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request(ops), async ([op, path, query]) => {
      const url = query ? `${path}?${query}` : path;
      const res = await call(url, {
        method: op.method,
        headers: { ...bearer(key), ...(op.body ? { "content-type": "application/json" } : {}) },
        body: op.body ? JSON.stringify(op.body) : undefined,
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assertDocumented4xx(op, url, res);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  await recordFigures("hostile input", "/v1 path and query values", {
    seed: SEED,
    requests: RUNS,
    operations: ops.length,
    answers_5xx: [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0),
  });
});

Deno.test("the inputs the probe found answer 400 with the envelope", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey();
  const cursor = (s: string) => btoa(s).replaceAll("=", "");
  const json = { ...bearer(key), "content-type": "application/json" };
  const endpoint = await call("/v1/webhook-endpoints", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ url: "https://example.com/hook" }),
  });
  const cases: Array<[string, RequestInit]> = [
    [`/v1/contacts/${"-".repeat(36)}`, {}],
    [`/v1/contacts/${"-".repeat(36)}/consent`, {
      method: "PUT",
      body: JSON.stringify({ status: "opted_in", source: "probe" }),
    }],
    // a Date.parse-able time with a comma, and an id of dashes, in the old unsigned cursor
    [`/v1/messages?cursor=${cursor(`Tue, 01 Dec 2026 15:07:39 GMT|${crypto.randomUUID()}`)}`, {}],
    [`/v1/messages?cursor=${cursor(`2026-12-01T15:07:39Z|${"-".repeat(36)}`)}`, {}],
    ["/v1/messages?since=0000-01-01T00:00:00Z", {}],
    ["/v1/messages?until=2026-01-01T00:00:00%2B23:00", {}],
    [`/v1/messages?contact=${"9".repeat(5000)}`, {}],
    ["/v1/account-events?field=%00", {}],
    [`/v1/webhook-endpoints/${endpoint.body.endpoint.id}/recover`, {
      method: "POST",
      body: JSON.stringify({ since: "0000-06-01T00:00:00Z" }),
    }],
  ];
  for (const [url, init] of cases) {
    const res = await call(url, { ...init, headers: init.body ? json : bearer(key) });
    assert.equal(res.status, 400, `${url} → ${res.status} ${JSON.stringify(res.body)}`);
    assert.match(res.body.error.code, /^invalid_/, url);
    assert.equal(typeof res.body.error.request_id, "string", url);
  }
});

Deno.test("a messages cursor only works for the client it was issued to, and unaltered", async () => {
  const { call } = await appUnderTest();
  const { clientId, key } = await clientWithKey();
  const other = await clientWithKey();
  // messages written directly: the cursor is about listing, not sending
  const [phone] = await sql<{ id: string }>(
    `with w as (insert into whatsapp_business_accounts (client_id, waba_id) values ($1, $2) returning id)
     insert into phone_numbers (client_id, waba_account_id, phone_number_id, display_phone_number)
     select $1, w.id, $3, '1555' from w returning id`,
    [clientId, String(Date.now()), String(Date.now() + 1)],
  );
  for (let i = 0; i < 3; i++) {
    await sql(
      "insert into messages (client_id, phone_number_id, direction, type, status, recipient) values ($1, $2, 'outbound', 'text', 'queued', '447700900123')",
      [clientId, phone.id],
    );
  }
  const first = await call("/v1/messages?limit=1", { headers: bearer(key) });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const next: string = first.body.next_cursor;
  assert.ok(next, "a second page exists");
  const second = await call(`/v1/messages?limit=1&cursor=${next}`, { headers: bearer(key) });
  assert.equal(second.status, 200);
  assert.notEqual(second.body.data[0].id, first.body.data[0].id);

  const [payload, tag] = next.split(".");
  // the first character: the last one of a 16-byte MAC also carries padding bits
  const flipped = (tag.startsWith("A") ? "B" : "A") + tag.slice(1);
  for (
    const [what, token, as] of [
      ["another client's", next, other.key],
      ["a tampered", `${payload}.${flipped}`, key],
      ["an unsigned", payload, key],
    ] as const
  ) {
    const res = await call(`/v1/messages?cursor=${token}`, { headers: bearer(as) });
    assert.equal(res.status, 400, what);
    assert.equal(res.body.error.code, "invalid_cursor", what);
  }
});

Deno.test("text a body would store is refused with 400 when PostgreSQL could not hold it", async () => {
  const { call } = await appUnderTest();
  const { key } = await clientWithKey();
  const headers = { ...bearer(key), "content-type": "application/json" };
  const cases: Array<[string, string, unknown]> = [
    ["PUT", "/v1/contacts/+447700900123/consent", { status: "opted_in", source: "a\u0000b" }],
    ["PUT", "/v1/contacts/+447700900123/consent", { status: "opted_in", source: "x\ud800" }],
    ["POST", "/v1/webhook-endpoints", { url: "https://example.com/a\u0000b" }],
    ["POST", "/v1/webhook-endpoints", { url: "https://example.com/", description: "\u0000" }],
    ["POST", "/v1/api-keys", { name: "a\u0000b", scopes: ["messages:read"] }],
    ["POST", "/v1/messages", { status: "read", message_id: "wamid.\u0000" }],
    ["POST", "/v1/messages", { status: "read", message_id: "w".repeat(100_000) }],
    ["POST", "/v1/templates", {
      name: "probe",
      language: "en_US",
      category: "UTILITY",
      components: [{ type: "BODY", text: "Hi \u0000 there" }],
    }],
    ["POST", "/v1/templates", {
      name: "probe",
      language: "en_US",
      category: "UTILITY",
      components: [{ type: "BODY", text: "Hi \ud800 there" }],
    }],
  ];
  for (const [method, url, body] of cases) {
    const res = await call(url, { method, headers, body: JSON.stringify(body) });
    const what = `${method} ${url} ${JSON.stringify(body).slice(0, 80)}`;
    assert.equal(res.status, 400, `${what} → ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "invalid_request", what);
  }
});
