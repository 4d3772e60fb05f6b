import { benchChannel } from "../../bench/channel_stack.ts";
import { startGraphEmulator } from "../../tools/emulators/graph_api.ts";
import { storeTemplates, withMetaIds } from "./templates.ts";
import {
  type Answers,
  clientErrors,
  metaTraffic,
  type SentMessage,
  serverErrors,
} from "./meta_traffic.ts";

type Emulator = Awaited<ReturnType<typeof startGraphEmulator>>;

/** The reliability profile the suite runs at (`deno task reliability`; unset: quick). */
export const fullProfile = () => Deno.env.get("RELIABILITY_PROFILE") === "full";

/** `quick` under `deno task test` and `deno task reliability --quick`, else `full`. */
export const scale = (quick: number, full: number) => (fullProfile() ? full : quick);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The app's settings in fault tests: short Graph timeouts and waits so that recovery paths run
 * within a test, a sweep every second, no per-recipient gap (each send goes to its own recipient
 * anyway). The send lease is the Graph timeout + 20 s (src/compose.ts): 21 s here.
 */
const FAULT_ENV = {
  SWEEP_INTERVAL_SECONDS: "1",
  RECIPIENT_MIN_INTERVAL_MS: "0",
  GRAPH_API_TIMEOUT_MS: "1000",
  SEND_AMBIGUOUS_WAIT_MS: "1500",
  SEND_BACKOFF_BASE_MS: "100",
};

/**
 * A stack the test owns (its own PostgreSQL, PostgREST and gateway, so they can be stopped), the
 * app as its own process (so it can be killed), one client with a WhatsApp number, and the Graph
 * API emulator, which posts status webhooks back and retries them for about 40 s as Meta would
 * (Meta retries for days; a webhook the app missed while down must still reach it).
 */
export async function faultChannel(
  options: {
    env?: Record<string, string>;
    emulator?: Partial<Parameters<typeof startGraphEmulator>[0]>;
  } = {},
) {
  let emulator: Emulator | undefined;
  // the template every send uses, held by Meta (the emulator) and by the store as a sync left it,
  // so a send is checked without a Graph call (Graph faults are what these tests inject)
  const templates = withMetaIds([{
    name: "order_update",
    components: [{ type: "BODY", text: "Shipped." }],
  }]);
  const ch = await benchChannel({
    runtime: "deno",
    env: { ...FAULT_ENV, ...options.env },
    graph: async (appWebhookUrl, ids) =>
      emulator = await startGraphEmulator({
        port: 0,
        appSecret: ids.appSecret,
        webhookUrl: appWebhookUrl,
        tokens: Object.fromEntries(ids.phoneNumberIds.map((p) => [p, ids.token])),
        wabaIdFor: () => ids.wabaId,
        statusDelaysMs: { sent: 20, delivered: 40, read: null },
        webhookRetry: { attempts: 40, maxDelayMs: 1000 },
        quiet: true,
        templates: { [ids.wabaId]: templates },
        ...options.emulator,
      }),
  });
  const [account] = await ch.sql<{ id: string }>(
    "select id from whatsapp_business_accounts where client_id = $1",
    [ch.clientId],
  );
  await storeTemplates(ch.clientId, account.id, templates, ch.sql);
  const tag = crypto.randomUUID().slice(0, 8);
  const count = async (text: string, params: unknown[] = []) =>
    Number((await ch.sql<{ n: string }>(text, params))[0].n);

  return {
    ...ch,
    emulator: emulator!,
    tag,
    /** this test's Meta traffic (see metaTraffic) */
    traffic: (statusShare = 0, sent: SentMessage[] = []) =>
      metaTraffic({
        wabaId: ch.wabaId,
        phoneNumberId: ch.phoneNumberId,
        appSecret: ch.stack.secrets.meta_app_secret,
        tag,
        statusShare,
        sent,
      }),
    /**
     * Inbox items claimed before `before` by an app that died or failed: their lease (60 s) ends
     * now instead of being waited for. Processing an item twice is harmless (the consumer is
     * idempotent), so only the clock is skipped; the sweeper still has to find and finish them.
     */
    expireInboxLeases: (before: Date) =>
      ch.sql(
        `update webhook_inbox set locked_until = now() - interval '1 second'
          where processed_at is null and locked_until > now() and received_at < $1`,
        [before.toISOString()],
      ),
    /** waits until every recorded delivery is processed; throws naming what is left */
    async drained(timeoutMs = 60_000) {
      const { pending } = await ch.inboxDrained({ timeoutMs, pollMs: 200 });
      if (pending) {
        const errors = await ch.sql<{ last_error: string | null; n: string }>(
          `select last_error, count(*) as n from webhook_inbox where processed_at is null
            group by 1 order by 2 desc limit 3`,
        );
        throw new Error(`${pending} deliveries still unprocessed: ${JSON.stringify(errors)}`);
      }
    },
    /** inbound messages of this test stored: rows, and distinct wamids */
    storedInbound: async () => {
      const [r] = await ch.sql<{ n: string; d: string }>(
        `select count(*) as n, count(distinct wamid) as d from messages
          where direction = 'inbound' and wamid like $1`,
        [`wamid.REL${tag}\\_%`],
      );
      return { rows: Number(r.n), distinct: Number(r.d) };
    },
    /** status events stored for `messages` (the history the traffic reports on) */
    storedStatusEvents: (messages: SentMessage[]) =>
      count("select count(*) as n from message_status_events where message_id = any($1)", [
        messages.map((m) => m.id),
      ]),
    /**
     * Sends one template to `to` as a careful client does: the same Idempotency-Key on every try
     * until a 202 (an error or no answer is retried), so one key means at most one message.
     */
    async send(key: string, to: string, answers: Answers): Promise<string> {
      for (let n = 0;; n++) {
        let status: number | null = null;
        try {
          const res = await fetch(`${ch.appUrl}/v1/messages`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${ch.key}`,
              "content-type": "application/json",
              "idempotency-key": key,
            },
            body: JSON.stringify({
              to,
              type: "template",
              template: { name: "order_update", language: { code: "en_US" } },
            }),
            signal: AbortSignal.timeout(10_000),
          });
          status = res.status;
          const body = await res.json().catch(() => null);
          if (status === 202) {
            answers.byStatus[202] = (answers.byStatus[202] ?? 0) + 1;
            return body.message.id as string;
          }
        } catch {
          status = null;
        }
        if (status === null) answers.noAnswer++;
        else answers.byStatus[status] = (answers.byStatus[status] ?? 0) + 1;
        if (n > 200) throw new Error(`The send ${key} was never accepted`);
        await sleep(Math.min(1000, 50 * 2 ** n));
      }
    },
    /**
     * Waits until every message in `ids` has left the pipeline (accepted or further, or failed),
     * then says how many times the emulator received each: the truth about what reached Meta.
     */
    async sendsSettled(ids: string[], timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let open = ids.length;
      while (Date.now() < deadline) {
        open = await count(
          "select count(*) as n from messages where id = any($1) and status in ('queued', 'sending')",
          [ids],
        );
        if (open === 0) break;
        await sleep(250);
      }
      const received = new Map<string, number>();
      for (const m of emulator!.messages()) {
        const id = m.bizOpaqueCallbackData ?? "(none)";
        received.set(id, (received.get(id) ?? 0) + 1);
      }
      const failed = await ch.sql<{ id: string; error: unknown }>(
        "select id, error from messages where id = any($1) and status = 'failed'",
        [ids],
      );
      return {
        open,
        failed,
        /** sent, but never reached the emulator */
        lost: ids.filter((id) => !received.has(id)).length,
        /** reached the emulator more than once (each extra copy counts) */
        duplicated: ids.reduce((n, id) => n + Math.max(0, (received.get(id) ?? 0) - 1), 0),
        /** messages the emulator got that the client never asked for */
        unknown: [...received.keys()].filter((id) => !ids.includes(id)).length,
      };
    },
  };
}

export type FaultChannel = Awaited<ReturnType<typeof faultChannel>>;

/** Figures every fault reports about what Meta (or a client) was told. */
export function answerFigures(a: Answers, prefix = "") {
  return {
    [`${prefix}answers_5xx`]: serverErrors(a),
    [`${prefix}answers_4xx`]: clientErrors(a),
    [`${prefix}no_answer`]: a.noAnswer,
  };
}
