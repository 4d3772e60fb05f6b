import { isUuid } from "../../core/ids.ts";
import { STORED_LANGUAGE, TEMPLATE_NAME, type TemplateRow } from "../../core/whatsapp/templates.ts";
import type {
  SendLookup,
  SyncClaim,
  TemplateChange,
  TemplateRecord,
  TemplateStore,
} from "../../ports/templates.ts";
import { checked as check } from "./checked.ts";
import type { DatabaseAccess, Db } from "./database.ts";

const COLUMNS =
  "id, meta_template_id, name, language, category, status, quality_score, parameter_format, components, rejected_reason, created_at, updated_at";
// the account's Meta id rides along through the (client_id, waba_account_id) reference
const WITH_WABA = `${COLUMNS}, whatsapp_business_accounts!inner(waba_id)`;

type Row = Omit<TemplateRecord, "waba_id"> & { whatsapp_business_accounts: { waba_id: string } };
const record = ({ whatsapp_business_accounts: account, ...row }: Row): TemplateRecord => ({
  ...row,
  waba_id: account.waba_id,
});

/** Message templates in Supabase: the template tables and their functions (see the migration). */
export function templateStore(db: DatabaseAccess): TemplateStore {
  const as = (clientId: string): Db => db.forClient(clientId);
  return {
    async list(clientId, f) {
      let q = as(clientId).from("message_templates").select(WITH_WABA);
      if (f.status) q = q.eq("status", f.status);
      if (f.language) q = q.eq("language", f.language);
      if (f.category) q = q.eq("category", f.category);
      if (f.name) q = q.eq("name", f.name);
      if (f.wabaId) q = q.eq("whatsapp_business_accounts.waba_id", f.wabaId);
      if (f.after) {
        // these values are written into PostgREST's filter syntax: only what the name, language
        // and id rules allow gets there (callers check them too)
        const { name, language, id } = f.after;
        if (!TEMPLATE_NAME.test(name) || !STORED_LANGUAGE.test(language) || !isUuid(id)) {
          throw new Error("A template cursor holds values no template has");
        }
        q = q.or(
          `name.gt.${name},and(name.eq.${name},language.gt.${language}),` +
            `and(name.eq.${name},language.eq.${language},id.gt.${id})`,
        );
      }
      const rows = check(
        await q.order("name").order("language").order("id").limit(f.limit),
        "Could not list templates",
      ) as unknown as Row[];
      return rows.map(record);
    },
    async get(clientId, id) {
      const row = check(
        await as(clientId).from("message_templates").select(WITH_WABA).eq("id", id).maybeSingle(),
        "Could not read the template",
      ) as unknown as Row | null;
      return row ? record(row) : null;
    },
    async forSend(clientId, send): Promise<SendLookup> {
      const found = check(
        await as(clientId).rpc("template_for_send", {
          phone: send.phoneNumberId,
          template_name: send.name,
          template_language: send.language,
          idempotency_key: send.idempotencyKey,
        }),
        "Could not look the template up",
      ) as {
        queued?: boolean;
        account_id: string | null;
        template?: SendLookup["template"];
        languages?: string[];
      };
      return {
        queued: found.queued === true,
        accountId: found.account_id,
        template: found.template ?? null,
        languages: found.languages ?? [],
      };
    },
    async claimSync(clientId, accountId, options): Promise<SyncClaim> {
      const answer = check(
        await as(clientId).rpc("claim_template_sync", {
          waba_account: accountId,
          min_interval_seconds: options.minIntervalSeconds,
          lease_seconds: options.leaseSeconds,
        }),
        "Could not claim the template sync",
      ) as {
        claimed: boolean;
        started_at?: string;
        reason?: "recent" | "in_progress" | "unknown_account";
        last_synced_at?: string | null;
      };
      return answer.claimed ? { claimed: true, startedAt: answer.started_at! } : {
        claimed: false,
        reason: answer.reason ?? "recent",
        lastSyncedAt: answer.last_synced_at ?? null,
      };
    },
    async writePage(clientId, accountId, rows: TemplateRow[]) {
      return check(
        await as(clientId).rpc("upsert_message_templates", {
          waba_account: accountId,
          templates: rows,
        }),
        "Could not store templates",
      );
    },
    async finishSync(clientId, accountId, outcome) {
      return check(
        await as(clientId).rpc("finish_template_sync", {
          waba_account: accountId,
          seen: outcome.seen,
          started_at: outcome.startedAt,
          sync_error: outcome.error,
          templates_found: outcome.found,
        }),
        "Could not finish the template sync",
      ) as { deleted: TemplateChange[] };
    },
    async insert(clientId, accountId, row) {
      const stored = check(
        await as(clientId).from("message_templates").upsert({
          client_id: clientId,
          waba_account_id: accountId,
          ...row,
        }, { onConflict: "client_id,waba_account_id,name,language" }).select(WITH_WABA).single(),
        "Could not store the template",
      ) as unknown as Row;
      return record(stored);
    },
    async remove(clientId, id) {
      const rows = check(
        await as(clientId).from("message_templates").delete().eq("id", id).select("id"),
        "Could not delete the template",
      );
      return rows.length > 0;
    },
    async applyEvents(clientId, events) {
      return check(
        await as(clientId).rpc("apply_template_events", { events }),
        "Could not apply template events",
      ) as { changes: Array<TemplateChange & { waba_id: string }>; sync: string[] };
    },
    async dueSyncs(limit, options) {
      const rows = check(
        await db.service.rpc("due_template_syncs", {
          max_rows: limit,
          interval_seconds: options.intervalSeconds,
          retry_seconds: options.retrySeconds,
        }),
        "Sweep of template syncs failed",
      ) as Array<{ client_id: string; waba_account_id: string }>;
      return rows.map((r) => ({ clientId: r.client_id, accountId: r.waba_account_id }));
    },
  };
}
