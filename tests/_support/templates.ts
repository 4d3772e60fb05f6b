import type { TemplateSeed } from "../../tools/emulators/graph_api.ts";
import { sql } from "./stack.ts";

/** The template the channel tests send: one body variable. */
export const ORDER_UPDATE: TemplateSeed = {
  name: "order_update",
  language: "en_US",
  category: "UTILITY",
  components: [{ type: "BODY", text: "Hi {{1}}, your order has shipped." }],
};

/** A send of ORDER_UPDATE to `to`, as POST /v1/messages takes it. */
export const orderUpdate = (to: string, name = "Ana") => ({
  to,
  type: "template",
  template: {
    name: "order_update",
    language: { code: "en_US" },
    components: [{ type: "body", parameters: [{ type: "text", text: name }] }],
  },
});

let nextId = 2_000_000_000_000_000 + Math.floor(Math.random() * 1e12);

/** Seeds with Meta ids of their own, so the store and the emulator name each template alike. */
export const withMetaIds = (seeds: TemplateSeed[]): TemplateSeed[] =>
  seeds.map((s) => ({ ...s, id: s.id ?? String(nextId++) }));

/** Runs SQL as the admin of a stack: the shared test stack's, or one a test owns. */
type Sql = <T>(text: string, params?: unknown[]) => Promise<T[]>;

/**
 * Puts templates straight into a client's template store, as a sync that just ran would have
 * (approved unless the seed says otherwise), so tests about sends need no Graph listing. A
 * template a sync already stored (an app's sweeper may have run one) is overwritten.
 */
export async function storeTemplates(
  clientId: string,
  wabaAccountId: string,
  seeds: TemplateSeed[],
  query: Sql = sql,
): Promise<Array<{ id: string; name: string; language: string }>> {
  const rows = [];
  for (const seed of seeds) {
    const [row] = await query<{ id: string; name: string; language: string }>(
      `insert into message_templates (client_id, waba_account_id, meta_template_id, name, language,
         category, status, parameter_format, components)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (client_id, waba_account_id, name, language) do update
         set meta_template_id = excluded.meta_template_id, category = excluded.category,
             status = excluded.status, parameter_format = excluded.parameter_format,
             components = excluded.components
       returning id, name, language`,
      [
        clientId,
        wabaAccountId,
        seed.id ?? String(nextId++),
        seed.name,
        seed.language ?? "en_US",
        seed.category ?? "UTILITY",
        seed.status ?? "APPROVED",
        seed.parameter_format ?? "POSITIONAL",
        JSON.stringify(seed.components ?? [{ type: "BODY", text: `Message ${seed.name}` }]),
      ],
    );
    rows.push(row);
  }
  await query(
    `insert into message_template_syncs (client_id, waba_account_id, last_synced_at, last_attempt_at)
     values ($1, $2, now(), now())
     on conflict (waba_account_id) do update set last_synced_at = now(), last_attempt_at = now()`,
    [clientId, wabaAccountId],
  );
  return rows;
}
