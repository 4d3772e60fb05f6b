import pg from "pg";
import * as z from "zod";
import { definePlugin } from "../../src/plugin_api/mod.ts";
import type { Job } from "../../src/ports/jobs.ts";
import type { PrivacyService } from "../../src/services/privacy_requests.ts";
import { emulatedChannel, type Emulator } from "./emulated_channel.ts";
import { eventually } from "./channel.ts";
import { buildEnvelope, buildInbound, buildMessagesChange } from "./meta_payloads.ts";
import { createClientWithPhone, sql, testStack } from "./stack.ts";
import { ORDER_UPDATE } from "./templates.ts";
import { PRIVACY_CODE } from "../../tools/emulators/graph_api.ts";
import { example } from "../plugins/example/mod.ts";
import { EXAMPLE_ENV } from "../plugins/_registry.ts";

let counter = Date.now() % 1_000_000_000;
/** A WhatsApp number nobody else in the run uses. */
export const uniqueNumber = () => `44${String(++counter).padStart(10, "0")}`;

/** Someone who wrote to businesses: their number, profile name and a text for each business. */
export interface Subject {
  waId: string;
  name: string;
  texts: string[];
}

export function newSubject(): Subject {
  const tag = crypto.randomUUID().slice(0, 8);
  return {
    waId: uniqueNumber(),
    name: `Ana Subject ${tag}`,
    texts: [`my order ${tag} is late`, `please call me ${tag} tomorrow`],
  };
}

/**
 * A plugin that keeps each sender's last text in its state and then fails, on its only attempt,
 * so that the event is parked with its payload: what a plugin holds about a person without a
 * privacy hook of its own, which only the core can export and erase.
 */
export const rememberer = definePlugin({
  id: "rememberer",
  version: "0.1.0",
  name: "Rememberer (test)",
  enabledByDefault: true,
  config: z.object({}),
  maxAttempts: 1,
  on: {
    "message.received": async (event, ctx) => {
      const from = event.data.from ?? event.data.from_user_id;
      await ctx.state.set(`last:${from}`, { text: event.data.text ?? null });
      throw new Error("the upstream is down");
    },
  },
});

/**
 * A privacy world on the test stack: the app served over HTTP with the Graph API emulator, the
 * channel's client as the privacy sender (its number sends the verification codes), and
 * `businesses` more clients, each with a number. `writeIn` makes a subject write to a business
 * through a signed Meta webhook, so their data is stored exactly as production stores it. With
 * `plugins`, the app runs the example plugin (installed at every business: its privacy hooks
 * export and erase its count of a sender's `echo` messages) and the rememberer.
 */
export async function privacyWorld(options: { businesses?: number; plugins?: boolean } = {}) {
  const { ch, emulator } = await emulatedChannel(
    (ids) => ({ PRIVACY_SENDER_CLIENT_ID: ids.clientId, PRIVACY_EXPORT_TTL_HOURS: "1" }),
    {},
    {
      // the sender's account has the authentication template the codes go out with
      templates: [ORDER_UPDATE, PRIVACY_CODE],
      ...(options.plugins
        ? {
          plugins: {
            plugins: [example, rememberer],
            pluginEnv: EXAMPLE_ENV,
            pluginRetryDelaysMs: [0],
          },
        }
        : {}),
    },
  );
  const businesses = [];
  for (let i = 0; i < (options.businesses ?? 2); i++) {
    const business = await createClientWithPhone(`Privacy business ${i + 1}`);
    if (options.plugins) {
      await sql(
        "insert into plugin_installations (client_id, plugin_id, config) values ($1, 'example-echo', '{}')",
        [business.clientId],
      );
    }
    businesses.push(business);
  }

  async function writeIn(subject: Subject, business: { phoneNumberId: string }, text: string) {
    const res = await ch.postWebhook(buildEnvelope([buildMessagesChange({
      phoneNumberId: business.phoneNumberId,
      inbound: [buildInbound({
        type: "text",
        payload: { body: text },
        waId: subject.waId,
        name: subject.name,
      })],
    })]));
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    await ch.idle();
  }

  /** The six-digit code the emulator last received for `waId` (an authentication template). */
  async function codeSentTo(waId: string, after = 0): Promise<string> {
    const sent = await eventually(async () => {
      const { data } = await (await fetch(`${emulator.url}/__emulator/messages?to=${waId}`))
        .json() as { data: Array<{ type: string; body: Json }> };
      const templates = data.filter((m) => m.type === "template");
      return templates.length > after ? templates : null;
    }, `a code sent to ${waId}`);
    const template = sent.at(-1)!.body.template;
    return template.components[0].parameters[0].text as string;
  }

  async function codesSentTo(waId: string): Promise<number> {
    const { data } = await (await fetch(`${emulator.url}/__emulator/messages?to=${waId}`))
      .json() as { data: Array<{ type: string }> };
    return data.filter((m) => m.type === "template").length;
  }

  /** A request of the public page, redirects not followed. */
  async function page(path: string, form?: Record<string, string>) {
    const res = await fetch(`${ch.appUrl}${path}`, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      ...(form
        ? {
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(form).toString(),
        }
        : {}),
    });
    return {
      status: res.status,
      location: res.headers.get("location"),
      requestId: res.headers.get("x-request-id"),
      text: await res.text(),
    };
  }

  /** Files on the public page; returns the confirmation code from the redirect. */
  async function fileOnWeb(type: string, number: string, extra: Record<string, string> = {}) {
    const res = await page("/privacy/requests", { type, number, ...extra });
    if (res.status !== 303) throw new Error(`filing answered ${res.status}: ${res.text}`);
    return decodeURIComponent(/\/privacy\/requests\/([^?]+)/.exec(res.location!)![1]);
  }

  /** Carries out the privacy parts due now, as the sweeper's jobs would. */
  const sweep = () => runDuePrivacyWork(ch.app);

  return {
    ch,
    emulator: emulator as Emulator,
    sender: ch.clientId,
    businesses,
    writeIn,
    codeSentTo,
    codesSentTo,
    page,
    fileOnWeb,
    sweep,
    close: () => ch.close(),
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Carries out every privacy part due now through the job consumer, as the jobs the sweeper rings
 * would, and waits for them. Not the whole sweep: in a suite that shares one database it would
 * also re-ring other tests' leftover work (sends to Graph APIs long gone, with their backoff), and
 * waiting for that would wait for nothing this test needs.
 */
export async function runDuePrivacyWork(
  app: { deps: { privacy: PrivacyService }; handleJobs(jobs: Job[]): Promise<unknown> },
): Promise<void> {
  const jobs = (await app.deps.privacy.due(500)).filter((j) => j.kind === "privacy_part");
  if (jobs.length) await app.handleJobs(jobs);
}

/** The request row of a confirmation code's prefix (the workflow's id). */
export async function requestIdByPrefix(code: string): Promise<string> {
  const rows = await sql<{ id: string }>(
    "select id from privacy_requests where reference_prefix = $1 order by received_at desc",
    [code.slice(0, 4)],
  );
  return rows[0].id;
}

/**
 * Runs `statements` as a privacy staff member would in Studio: as `privacy_staff`, named with
 * privacy.act_as(). Returns the last statement's rows; throws the database's error.
 */
export async function asPrivacyStaff<T = Record<string, unknown>>(
  statements: Array<[string, unknown[]?]>,
  staffMember = "dpo@provider.example",
): Promise<T[]> {
  const client = new pg.Client({ connectionString: testStack().adminDbUrl });
  await client.connect();
  try {
    await client.query("set role privacy_staff");
    await client.query("select privacy.act_as($1)", [staffMember]);
    let rows: T[] = [];
    for (const [text, params] of statements) rows = (await client.query(text, params)).rows;
    return rows;
  } finally {
    await client.end();
  }
}

/**
 * Every row of every table of every schema we own, as text: what a dump of the database holds.
 * (The stack's PostgreSQL has no pg_dump; this reads each table in full, as pg_dump would.)
 */
export async function dumpEveryTable(): Promise<Array<{ table: string; row: string }>> {
  const tables = await sql<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg_toast%'
      order by 1`,
  );
  const out: Array<{ table: string; row: string }> = [];
  for (const { name } of tables) {
    for (const r of await sql<{ row: string }>(`select t::text as row from ${name} t`)) {
      out.push({ table: name, row: r.row });
    }
  }
  return out;
}

/** The tables whose rows hold any of `needles`. */
export async function tablesHolding(needles: string[]): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const { table, row } of await dumpEveryTable()) {
    for (const needle of needles) {
      if (row.includes(needle)) (found[needle] ??= []).includes(table) || found[needle].push(table);
    }
  }
  return found;
}
