import type { ClientEventData } from "../core/webhooks/client_events.ts";
import { AppError, notFound } from "../core/errors.ts";
import {
  judgeTemplateSend,
  parseGraphTemplate,
  STORED_LANGUAGE,
  type StoredTemplate,
  TEMPLATE_NAME,
  TEMPLATE_WEBHOOK_FIELDS,
  type TemplateEvent,
  type TemplateRow,
  type TemplateVerdict,
  templateWebhookEvent,
} from "../core/whatsapp/templates.ts";
import type { BusinessAccount } from "../ports/accounts.ts";
import type { EventPublisher } from "../ports/events.ts";
import type { Job } from "../ports/jobs.ts";
import type {
  NewTemplate,
  Requester,
  SendLookup,
  TemplateChange,
  TemplateFilter,
  TemplateRecord,
  TemplateSend,
} from "../ports/templates.ts";
import type { ServiceDeps } from "./deps.ts";
import { accessTokenFor } from "./whatsapp_send.ts";

/** What the template service reaches: the template store and the account's Graph calls. */
export type TemplateServiceDeps = Pick<
  ServiceDeps,
  | "templates"
  | "accounts"
  | "graph"
  | "dataKeys"
  | "events"
  | "doorbell"
  | "audit"
  | "logger"
  | "now"
>;

export interface TemplateSettings {
  /** a full sync of every account at least this often (the webhooks keep it current between) */
  syncIntervalSeconds: number;
  /** at most one sync per account this often, whoever asks (a refused send, a client, the sweep) */
  minIntervalSeconds: number;
  /** how long one sync may hold an account (it outlives the Graph calls of a full listing) */
  leaseSeconds: number;
  /** templates asked for per page of Meta's listing */
  pageSize?: number;
  /** pages one sync reads at most; past them the sync stops and deletes nothing */
  maxPages?: number;
}

/** What one sync of one account did. */
export interface SyncReport {
  waba_id: string;
  /** false: another sync holds the account, or one ran less than the minimum interval ago */
  performed: boolean;
  pages: number;
  found: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  /** templates of Meta's listing that could not be read (logged, not stored) */
  skipped: number;
  error: string | null;
  last_synced_at: string | null;
}

export type { NewTemplate, Requester } from "../ports/templates.ts";

const PAGE_SIZE = 100;
const MAX_PAGES = 100;
/** a failing account's scheduled sync is retried this often, not every sweep */
const RETRY_SECONDS = 300;
/** how long a template found sendable is trusted before the store is asked again */
const CACHE_MS = 5_000;
const CACHE_PER_CLIENT = 1_000;
const CACHED_CLIENTS = 10_000;

class SyncFailure extends Error {}

/**
 * Message templates: the per-client store kept in step with Meta (full syncs of every page, the
 * template webhooks), the client API's use cases, and the check a template send passes before it
 * is queued (ServiceDeps.templateCheck). One instance per isolate, built by src/compose.ts: it
 * shares syncs of one account between concurrent callers and remembers sendable templates for a
 * few seconds (a send is the hot path).
 */
export function templateService(deps: TemplateServiceDeps, settings: TemplateSettings) {
  const pageSize = settings.pageSize ?? PAGE_SIZE;
  const maxPages = settings.maxPages ?? MAX_PAGES;
  const running = new Map<string, Promise<SyncReport>>();
  const sendable = new Map<
    string,
    Map<string, { template: StoredTemplate; until: number }>
  >();

  const forget = (clientId: string) => sendable.delete(clientId);
  const remember = (clientId: string, key: string, template: StoredTemplate) => {
    let entries = sendable.get(clientId);
    if (!entries) {
      if (sendable.size >= CACHED_CLIENTS) sendable.clear();
      sendable.set(clientId, entries = new Map());
    }
    if (entries.size >= CACHE_PER_CLIENT) entries.clear();
    entries.set(key, { template, until: deps.now() + CACHE_MS });
  };

  // the send path's token lookup: a token that does not open is none (no_access_token)
  const token = (clientId: string, account: BusinessAccount) =>
    accessTokenFor(deps, clientId, account.id);

  /** Records the client webhook deliveries of `changes`; answers their jobs, to ring. */
  async function publish(clientId: string, changes: Array<TemplateChange & { waba_id: string }>) {
    const events = eventsOf(clientId, changes);
    return events.length ? await deps.events.publish(events) : [];
  }

  /**
   * One sync of one account: every page of Meta's listing written a page at a time, then what
   * Meta no longer lists deleted. Only whoever claims the account syncs it (claim_template_sync:
   * one at a time, at most one per minimum interval); a concurrent caller here shares that sync.
   */
  function syncAccount(clientId: string, account: BusinessAccount): Promise<SyncReport> {
    let sync = running.get(account.id);
    if (!sync) {
      sync = runSync(clientId, account).finally(() => running.delete(account.id));
      running.set(account.id, sync);
    }
    return sync;
  }

  async function runSync(clientId: string, account: BusinessAccount): Promise<SyncReport> {
    const report: SyncReport = {
      waba_id: account.waba_id,
      performed: false,
      pages: 0,
      found: 0,
      inserted: 0,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      skipped: 0,
      error: null,
      last_synced_at: null,
    };
    const claim = await deps.templates.claimSync(clientId, account.id, {
      minIntervalSeconds: settings.minIntervalSeconds,
      leaseSeconds: settings.leaseSeconds,
    });
    if (!claim.claimed) return { ...report, last_synced_at: claim.lastSyncedAt };
    report.performed = true;
    const seen: string[] = [];
    const changes: TemplateChange[] = [];
    try {
      const bearer = await token(clientId, account);
      if (!bearer) {
        throw new SyncFailure("The WhatsApp Business account has no access token configured");
      }
      let after: string | null = null;
      do {
        if (report.pages >= maxPages) {
          throw new SyncFailure(
            `More than ${maxPages * pageSize} templates: the listing was not read to its end, ` +
              "so nothing was deleted",
          );
        }
        const page = await deps.graph.listTemplates(account.waba_id, bearer, {
          after,
          limit: pageSize,
        });
        if (!page.ok) {
          throw new SyncFailure(
            `The Graph API refused the template list: ${page.error.title} (code ${page.error.code})`,
          );
        }
        report.pages++;
        const rows: TemplateRow[] = [];
        for (const raw of page.value.data) {
          const row = parseGraphTemplate(raw);
          if ("problem" in row) {
            report.skipped++;
            deps.logger.warn("template_unreadable", {
              client_id: clientId,
              waba_id: account.waba_id,
              problem: row.problem,
            });
            continue;
          }
          rows.push(row);
          seen.push(row.meta_template_id);
        }
        if (rows.length) {
          const written = await deps.templates.writePage(clientId, account.id, rows);
          report.inserted += written.inserted;
          report.updated += written.updated;
          changes.push(...written.changes);
        }
        report.found += rows.length;
        after = page.value.after;
      } while (after);
    } catch (error) {
      report.error = error instanceof SyncFailure
        ? error.message
        : "The templates could not be stored";
      if (!(error instanceof SyncFailure)) {
        deps.logger.error("template_sync_failed", {
          client_id: clientId,
          waba_id: account.waba_id,
          message: (error as Error).message,
        });
      }
    }
    const finished = await deps.templates.finishSync(clientId, account.id, {
      seen,
      startedAt: claim.startedAt,
      error: report.error,
      found: report.found,
    });
    forget(clientId);
    report.deleted = finished.deleted.length;
    report.unchanged = Math.max(0, report.found - report.inserted - report.updated);
    report.last_synced_at = report.error ? null : new Date(deps.now()).toISOString();
    deps.logger.info("template_sync", {
      client_id: clientId,
      waba_id: account.waba_id,
      pages: report.pages,
      found: report.found,
      inserted: report.inserted,
      updated: report.updated,
      deleted: report.deleted,
      error: report.error,
    });
    const jobs = await publish(clientId, [
      ...changes.map((c) => ({ ...c, waba_id: account.waba_id })),
      ...finished.deleted.map((d) => ({ ...d, waba_id: account.waba_id, status: "DELETED" })),
    ]);
    if (jobs.length) await deps.doorbell.ring(jobs);
    return report;
  }

  /** A send of a template the store refuses: the store gets one chance to catch up with Meta. */
  async function catchUp(clientId: string, accountId: string): Promise<void> {
    try {
      const [account] = await deps.accounts.businessAccounts(clientId, { id: accountId });
      if (account) await syncAccount(clientId, account);
    } catch (error) {
      deps.logger.warn("template_sync_before_refusal_failed", {
        client_id: clientId,
        message: (error as Error).message,
      });
    }
  }

  const stored = (t: NonNullable<SendLookup["template"]>): StoredTemplate => t;

  /**
   * Whether a template send would be accepted. A template the store finds sendable is
   * remembered for a few seconds; a refusal is given only after the store has had one sync of
   * the account (at most one per minimum interval), so a template approved or created a moment
   * ago at Meta is not refused for the store's lag. A send whose Idempotency-Key already names a
   * message passes: it repeats a send that was accepted (the enqueue answers with that message,
   * and refuses another body with the key), and a template paused or deleted since must not turn
   * that answer into a refusal.
   */
  async function check(clientId: string, intent: TemplateSend): Promise<TemplateVerdict> {
    const send = intent.template;
    const phone = intent.phoneNumberId ?? null;
    const lookup = {
      phoneNumberId: phone,
      name: send.name,
      language: send.language.code,
      idempotencyKey: intent.idempotencyKey ?? null,
    };
    // a name or language Meta would never give a template is in no store: no lookup, no sync
    if (!TEMPLATE_NAME.test(send.name) || !STORED_LANGUAGE.test(send.language.code)) {
      return judgeTemplateSend(null, [], send);
    }
    const key = `${phone ?? ""}|${send.name}|${send.language.code}`;
    const hit = sendable.get(clientId)?.get(key);
    if (hit && hit.until > deps.now() && judgeTemplateSend(hit.template, [], send).ok) {
      return { ok: true };
    }
    const first = await deps.templates.forSend(clientId, lookup);
    if (first.queued) return { ok: true };
    // an unknown number, or none named among several: the enqueue refuses it with its own reason
    if (!first.accountId) return { ok: true };
    const verdict = (look: SendLookup) =>
      judgeTemplateSend(look.template && stored(look.template), look.languages, send);
    const complete = (look: SendLookup) => Boolean(look.template?.components);
    let look = first;
    let answer = verdict(look);
    if (!answer.ok || !complete(look)) {
      await catchUp(clientId, first.accountId);
      look = await deps.templates.forSend(clientId, lookup);
      // (a concurrent request with the same key may have been accepted during the sync)
      if (look.queued) return { ok: true };
      answer = verdict(look);
    }
    if (answer.ok && look.template && complete(look)) remember(clientId, key, look.template);
    return answer;
  }

  return {
    list: (clientId: string, filter: TemplateFilter) => deps.templates.list(clientId, filter),

    async get(clientId: string, id: string): Promise<TemplateRecord> {
      const template = await deps.templates.get(clientId, id);
      if (!template) throw notFound("Template");
      return template;
    },

    check,

    /** Submits a new template to Meta for review and stores it as Meta answers (PENDING). */
    async create(clientId: string, input: NewTemplate, who: Requester): Promise<TemplateRecord> {
      const account = await accountFor(clientId, input.waba_id);
      const [existing] = await deps.templates.list(clientId, {
        wabaId: account.waba_id,
        name: input.name,
        language: input.language,
        limit: 1,
      });
      if (existing) {
        throw new AppError(
          409,
          "template_exists",
          `A template named "${input.name}" in ${input.language} already exists (${existing.status.toLowerCase()}); delete it or choose another name`,
          { details: { id: existing.id, status: existing.status } },
        );
      }
      const bearer = await token(clientId, account);
      if (!bearer) throw noToken();
      const created = await deps.graph.createTemplate(account.waba_id, bearer, {
        name: input.name,
        language: input.language,
        category: input.category,
        ...(input.parameter_format ? { parameter_format: input.parameter_format } : {}),
        components: input.components,
      });
      if (!created.ok) throw graphRefused("create the template", created.error);
      const record = await deps.templates.insert(clientId, account.id, {
        meta_template_id: created.value.id,
        name: input.name,
        language: input.language,
        category: created.value.category ?? input.category,
        status: created.value.status,
        quality_score: null,
        parameter_format: input.parameter_format ?? "POSITIONAL",
        components: input.components,
        rejected_reason: null,
      });
      forget(clientId);
      await deps.audit.record({
        clientId,
        actor: who.actor,
        action: "template.created",
        targetType: "message_template",
        targetId: record.id,
        details: { waba_id: account.waba_id, name: record.name, language: record.language },
        requestId: who.requestId,
      });
      return record;
    },

    /** Deletes one template (this language of its name) at Meta, then from the store. */
    async remove(clientId: string, id: string, who: Requester): Promise<void> {
      const template = await deps.templates.get(clientId, id);
      if (!template) throw notFound("Template");
      const account = await accountFor(clientId, template.waba_id);
      const bearer = await token(clientId, account);
      if (!bearer) throw noToken();
      const deleted = await deps.graph.deleteTemplate(account.waba_id, bearer, {
        name: template.name,
        metaTemplateId: template.meta_template_id,
      });
      if (!deleted.ok) throw graphRefused("delete the template", deleted.error);
      await deps.templates.remove(clientId, id);
      forget(clientId);
      await deps.audit.record({
        clientId,
        actor: who.actor,
        action: "template.deleted",
        targetType: "message_template",
        targetId: id,
        details: { waba_id: account.waba_id, name: template.name, language: template.language },
        requestId: who.requestId,
      });
    },

    /** On request: syncs the client's accounts (or the one named), each at most once a minute. */
    async sync(clientId: string, options: { wabaId?: string } = {}): Promise<SyncReport[]> {
      const accounts = await deps.accounts.businessAccounts(clientId, { wabaId: options.wabaId });
      if (options.wabaId && !accounts.length) throw unknownWaba();
      const reports: SyncReport[] = [];
      // one at a time: a client has few accounts, and each sync is already a run of Graph calls
      for (const account of accounts) reports.push(await syncAccount(clientId, account));
      return reports;
    },

    /** A template_sync job (the sweeper's schedule, a webhook naming an unknown template). */
    async syncJob(job: Extract<Job, { kind: "template_sync" }>): Promise<SyncReport | null> {
      try {
        const [account] = await deps.accounts.businessAccounts(job.clientId, {
          id: job.wabaAccountId,
        });
        return account ? await syncAccount(job.clientId, account) : null;
      } catch (error) {
        deps.logger.error("template_sync_job_failed", {
          client_id: job.clientId,
          message: (error as Error).message,
        });
        return null;
      }
    },

    /** For the sweeper: accounts never synced, asked for, or due their scheduled sync. */
    async due(limit: number): Promise<Job[]> {
      const rows = await deps.templates.dueSyncs(limit, {
        intervalSeconds: settings.syncIntervalSeconds,
        retrySeconds: Math.max(RETRY_SECONDS, settings.minIntervalSeconds),
      });
      return rows.map((r) => ({
        kind: "template_sync" as const,
        clientId: r.clientId,
        wabaAccountId: r.accountId,
      }));
    },

    /**
     * Applies the template webhooks among a client's ingested account events (status, quality,
     * category) and publishes what clients hear of. Returns the jobs to ring: client webhook
     * deliveries, and a sync of each account a webhook named an unknown template of.
     */
    async applyWebhookEvents(
      clientId: string,
      fields: ReadonlyArray<Record<string, unknown>>,
    ): Promise<Job[]> {
      const events: TemplateEvent[] = [];
      for (const f of fields) {
        const field = String(f.field);
        if (!(TEMPLATE_WEBHOOK_FIELDS as readonly string[]).includes(field)) continue;
        const event = templateWebhookEvent(String(f.waba_id ?? ""), field, f.value);
        if (event) events.push(event);
      }
      if (!events.length) return [];
      const applied = await deps.templates.applyEvents(clientId, events);
      forget(clientId);
      return [
        ...await publish(clientId, applied.changes),
        ...applied.sync.map((wabaAccountId) => ({
          kind: "template_sync" as const,
          clientId,
          wabaAccountId,
        })),
      ];
    },
  };

  async function accountFor(
    clientId: string,
    wabaId: string | undefined,
  ): Promise<BusinessAccount> {
    const accounts = await deps.accounts.businessAccounts(clientId, { wabaId });
    if (!accounts.length) throw unknownWaba();
    if (accounts.length > 1) {
      throw new AppError(
        422,
        "waba_required",
        "This client has several WhatsApp Business accounts; say which one with waba_id",
      );
    }
    return accounts[0];
  }
}

/**
 * What clients hear of a batch of changes: template.status when a status changed (DELETED for a
 * template Meta no longer lists), template.quality when a quality score did.
 */
function eventsOf(clientId: string, changes: Array<TemplateChange & { waba_id: string }>) {
  return changes.flatMap((c) => {
    const base = {
      id: c.id,
      waba_id: c.waba_id,
      name: c.name,
      language: c.language,
      category: c.category,
    };
    const events: Parameters<EventPublisher["publish"]>[0][number][] = [];
    if (c.kind !== "quality" && c.status !== undefined && c.status !== c.previous_status) {
      events.push({
        clientId,
        type: "template.status",
        data: {
          ...base,
          status: c.status,
          previous_status: c.previous_status ?? null,
          reason: c.reason ?? null,
        } satisfies ClientEventData<"template.status">,
      });
    }
    if (
      c.kind !== "status" && c.quality_score !== undefined &&
      c.quality_score !== c.previous_quality_score
    ) {
      events.push({
        clientId,
        type: "template.quality",
        data: {
          ...base,
          quality_score: c.quality_score,
          previous_quality_score: c.previous_quality_score ?? null,
        } satisfies ClientEventData<"template.quality">,
      });
    }
    return events;
  });
}

const unknownWaba = () =>
  new AppError(
    422,
    "unknown_waba",
    "No such WhatsApp Business account for this client; check waba_id",
  );

const noToken = () =>
  new AppError(
    422,
    "no_access_token",
    "The WhatsApp Business account has no access token configured",
  );

function graphRefused(
  what: string,
  error: { code: number; title: string; details: string | null },
) {
  return new AppError(502, "graph_error", `The Graph API refused to ${what}: ${error.title}`, {
    details: { code: error.code, details: error.details },
  });
}

export type TemplateService = ReturnType<typeof templateService>;
