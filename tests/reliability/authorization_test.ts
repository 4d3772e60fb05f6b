/**
 * The authorization matrix over every /v1 operation in /openapi.json, through the HTTP API:
 * scope × operation (a key holding one scope opens exactly the operations that scope names), and
 * tenant × operation (client A's credentials never read, change or learn of client B's
 * resources: B's ids answer exactly as ids that exist nowhere, and B's rows stay as they were).
 */
import assert from "node:assert/strict";
import { SCOPES } from "../../src/core/auth/api_keys.ts";
import {
  apiOperations,
  keyFor,
  type Operation,
  populatedTenant,
  requestFor,
  ROUTE_SCOPES,
  routedOperations,
  type SampleRequest,
  sampleRequest,
} from "../_support/api_catalog.ts";
import { type Answer, assertEnvelope, withEdge } from "../_support/edge.ts";
import { checkCases } from "../_support/fuzz.ts";
import { signJwt, sql } from "../_support/stack.ts";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Every row any tenant table holds for a client, as text: proof that nothing of B changed. */
async function snapshot(clientId: string) {
  const tables = await sql<{ table_name: string }>(
    `select c.table_name from information_schema.columns c
       join information_schema.tables t using (table_schema, table_name)
      where c.table_schema = 'public' and c.column_name = 'client_id' and t.table_type = 'BASE TABLE'
        and c.table_name not in ('api_request_log')
      order by 1`,
  );
  const out: Record<string, string> = {};
  for (const { table_name } of tables) {
    const rows = await sql<{ r: string }>(
      `select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text)::text, '[]') as r
         from public.${table_name} t where client_id = $1`,
      [clientId],
    );
    out[table_name] = rows[0].r;
  }
  return out;
}

Deno.test("every /v1 handler the router serves is in /openapi.json, with a scope and a sample request", async () => {
  await withEdge({}, async (edge) => {
    const documented = (await apiOperations(edge.fetch)).map((o) => o.key);
    for (const routed of routedOperations(edge.app.routes)) {
      assert.ok(documented.includes(routed), `${routed} is served but not in /openapi.json`);
    }
    for (const key of documented) {
      assert.ok(key in ROUTE_SCOPES, `${key}: add its scope to ROUTE_SCOPES (api_catalog.ts)`);
    }
  });
});

Deno.test("a key holding one scope gets 403 with the envelope on every operation that needs another, and never on those its scope opens", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "10000" }, async (edge) => {
    const tenant = await populatedTenant("Scoped tenant", edge);
    const ops = await apiOperations(edge.fetch);
    const keys = await Promise.all(SCOPES.map((s) => keyFor(tenant.clientId, [s])));
    const user = await signJwt({ sub: "user-1", app_metadata: { client_id: tenant.clientId } });
    await checkCases("security", "authorization matrix: operation × scope", async (tally) => {
      const wrong: string[] = [];
      for (const op of ops) {
        const needed = ROUTE_SCOPES[op.key];
        assert.ok(needed !== undefined, `${op.key} has no scope in ROUTE_SCOPES`);
        const sample = sampleRequest(op.key, tenant);
        assert.ok(sample, `${op.key} has no sample request`);
        const credentials = [
          ...SCOPES.map((scope, i) => ({ scope, token: keys[i].key })),
          { scope: "user token (every scope)", token: user },
        ];
        for (const { scope, token } of credentials) {
          const [path, init] = requestFor(op, sample, bearer(token));
          const res = await edge.fetch(path, init);
          tally.inputs++;
          const opens = needed === null || needed === scope || scope.startsWith("user");
          if (opens && (res.status === 403 || res.status === 401)) {
            wrong.push(`${op.key} with ${scope}: ${res.status} ${res.text.slice(0, 120)}`);
          } else if (!opens) {
            if (res.status !== 403) wrong.push(`${op.key} with ${scope}: ${res.status}, not 403`);
            else {
              assertEnvelope(res, `${op.key} with ${scope}`);
              assert.equal(JSON.parse(res.text).error.code, "forbidden");
            }
          }
        }
      }
      assert.deepEqual(wrong, []);
    });
  });
});

/**
 * The same request with every id of `owner` replaced by one of the same shape that exists nowhere
 * (params every client shares, a plugin's id, stay).
 */
function nowhere(sample: SampleRequest): SampleRequest {
  const swap = (v: string) =>
    /^[0-9a-f-]{36}$/i.test(v)
      ? crypto.randomUUID()
      : /^\d+$/.test(v)
      ? String(BigInt(v) + 7_777_777n)
      : `${v}-nowhere`;
  return {
    ...sample,
    params: Object.fromEntries(
      Object.entries(sample.params ?? {}).map((
        [k, v],
      ) => [k, sample.shared?.includes(k) ? v : swap(v)]),
    ),
  };
}

const verdict = (res: Answer) => {
  if (res.status < 400) return `${res.status}`;
  const body = JSON.parse(res.text);
  return `${res.status} ${body.error.code}: ${body.error.message}`;
};

Deno.test("client A's key and user token never read, change or learn of client B's resources: B's ids answer as ids that exist nowhere, lists never show them, B's rows stay unchanged", async () => {
  await withEdge({ AUTH_FAILURES_PER_MINUTE: "10000" }, async (edge) => {
    const a = await populatedTenant("Tenant A", edge);
    const b = await populatedTenant("Tenant B", edge);
    const ops = await apiOperations(edge.fetch);
    const userA = await signJwt({ sub: "user-a", app_metadata: { client_id: a.clientId } });
    const secretsOfB = [
      b.clientId,
      b.contactId,
      b.inboundMessageId,
      b.deadLetteredMessageId,
      b.mediaId,
      b.endpointId,
      b.spareEndpointId,
      b.deliveryId,
      b.parkedPluginEventId,
      b.keyId,
      b.spareKeyId,
      b.wabaId,
      b.phoneNumberId,
      b.templateId,
      b.spareTemplateId,
    ];
    const before = await snapshot(b.clientId);
    await checkCases("security", "authorization matrix: operation × tenant", async (tally) => {
      const leaks: string[] = [];
      const tryBoth = async (label: string, op: Operation, theirs: SampleRequest) => {
        for (const token of [a.key, userA]) {
          const [path, init] = requestFor(op, theirs, bearer(token));
          const [otherPath, otherInit] = requestFor(op, nowhere(theirs), bearer(token));
          const res = await edge.fetch(path, init);
          const none = await edge.fetch(otherPath, otherInit);
          tally.inputs += 2;
          if (op.pathParams.length && verdict(res) !== verdict(none)) {
            leaks.push(`${label}: B's ids → ${verdict(res)}; ids of nothing → ${verdict(none)}`);
          }
          for (const id of secretsOfB) {
            if (res.text.includes(id)) leaks.push(`${label}: the answer names B's ${id}`);
          }
        }
      };
      for (const op of ops) {
        // every operation, with B's ids where it takes ids (consumable ones first as spares)
        const theirs = sampleRequest(op.key, b, true)!;
        await tryBoth(op.key, op, theirs);
      }
      // references inside bodies: B's number and B's inbound wamid
      const send = ops.find((o) => o.key === "POST /v1/messages")!;
      const [wamid] = await sql<{ wamid: string }>("select wamid from messages where id = $1", [
        b.inboundMessageId,
      ]);
      for (
        const [label, body, elsewhere] of [
          [
            "send from B's number",
            {
              to: `+${a.contactWaId}`,
              type: "text",
              text: { body: "x" },
              phone_number_id: b.phoneNumberId,
            },
            {
              to: `+${a.contactWaId}`,
              type: "text",
              text: { body: "x" },
              phone_number_id: "999000999000",
            },
          ],
          [
            "mark B's message as read",
            { status: "read", message_id: wamid.wamid },
            { status: "read", message_id: "wamid.nowhere" },
          ],
        ] as const
      ) {
        for (const token of [a.key, userA]) {
          const res = await edge.fetch(...requestFor(send, { body }, bearer(token)));
          const none = await edge.fetch(...requestFor(send, { body: elsewhere }, bearer(token)));
          tally.inputs += 2;
          if (verdict(res) !== verdict(none)) {
            leaks.push(`${label}: ${verdict(res)}; for nothing: ${verdict(none)}`);
          }
        }
      }
      assert.deepEqual(leaks, []);
      assert.deepEqual(await snapshot(b.clientId), before, "B's rows changed");
    }, 3);
  });
});
