import * as z from "zod";
import { definePlugin, type PluginContext } from "../../src/plugin_api/mod.ts";
import { type KeywordTable, keywordTable, type Language, matchKeyword } from "./keywords.ts";

const Keyword = z.string().trim().min(1).max(40).refine((k) => !/[\p{Cc}]/u.test(k), {
  error: "Must not contain control characters",
});

const Confirmation = z.string().trim().min(1).max(1024);

export const OptOutConfig = z.object({
  default_keywords: z.boolean().default(true).describe(
    "Recognise the built-in keywords (English, Spanish, Portuguese, Hindi, Tamil)",
  ),
  stop_keywords: z.array(Keyword).max(50).default([]).describe(
    "More messages that opt a contact out (matched whole, any case)",
  ),
  start_keywords: z.array(Keyword).max(50).default([]).describe(
    "More messages that opt a contact back in (matched whole, any case)",
  ),
  confirm: z.boolean().default(true).describe("Answer each keyword with a confirmation"),
  stop_confirmation: Confirmation.optional().describe(
    "The confirmation of an opt-out (default: in the keyword's language when it has one, else English)",
  ),
  start_confirmation: Confirmation.optional().describe(
    "The confirmation of an opt-in (default: in the keyword's language when it has one, else English)",
  ),
});
type Config = z.output<typeof OptOutConfig>;

/**
 * Default confirmations, in the languages whose wording was checked; Hindi and Tamil keywords are
 * confirmed in English unless the client sets its own text.
 */
const CONFIRMATIONS: Record<"stop" | "start", Partial<Record<Language, string>> & { en: string }> =
  {
    stop: {
      en:
        "You have unsubscribed and will receive no more messages from us. Reply START to subscribe again.",
      es:
        "Te has dado de baja y no recibirás más mensajes nuestros. Responde ALTA para volver a suscribirte.",
      pt:
        "Você cancelou a inscrição e não receberá mais mensagens nossas. Responda VOLTAR para voltar a recebê-las.",
    },
    start: {
      en: "You are subscribed again. Reply STOP to unsubscribe.",
      es: "Vuelves a estar suscrito. Responde BAJA para darte de baja.",
      pt: "Você voltou a receber nossas mensagens. Responda PARAR para cancelar.",
    },
  };

// the table for each config object: the filter runs for every inbound message of every client
const tables = new WeakMap<object, KeywordTable>();
function tableOf(config: Config): KeywordTable {
  let table = tables.get(config);
  if (!table) tables.set(config, table = keywordTable(config));
  return table;
}

function confirmation(config: Config, action: "stop" | "start", language: Language | null) {
  const own = action === "stop" ? config.stop_confirmation : config.start_confirmation;
  return own ?? CONFIRMATIONS[action][language ?? "en"] ?? CONFIRMATIONS[action].en;
}

async function confirm(
  ctx: PluginContext<Config>,
  to: string,
  text: string,
  key: string,
) {
  const sent = await ctx.send({ to, text, key });
  // past the 24-hour window (an event retried a day late) nothing free-form may go out: the
  // consent change stands, unconfirmed
  if (!sent.sent) ctx.logger.warn("opt_out_confirmation_not_sent", { reason: sent.reason });
}

/**
 * Opt-out keywords: a contact who writes STOP (or another stop keyword) is opted out at once and
 * told so; START opts it back in. On for every client; each configures its own keywords,
 * confirmations, or turns it off (PUT /v1/plugins/opt-out).
 */
export const optOut = definePlugin({
  id: "opt-out",
  version: "1.0.0",
  name: "Opt-out keywords",
  description: "STOP, UNSUBSCRIBE, START and the client's own keywords, in English, Spanish, " +
    "Portuguese, Hindi and Tamil: consent changes at once, is confirmed to the contact and audited.",
  enabledByDefault: true,
  config: OptOutConfig,
  on: {
    "message.received": {
      // runs for every inbound message: a length check, and for short ones a normalised lookup
      filter: (data, config) => matchKeyword(data.text, tableOf(config)) !== null,
      async handle(event, ctx) {
        const match = matchKeyword(event.data.text, tableOf(ctx.config));
        const contact = event.data.from ?? event.data.from_user_id;
        if (!match || !contact) return;
        const source = `keyword:${match.keyword}`.slice(0, 100);
        const text = confirmation(ctx.config, match.action, match.language);
        if (match.action === "stop") {
          // confirmed before the opt-out is recorded: once it is, nothing may be sent to the
          // contact, this confirmation included. The send is idempotent on the event, so a
          // retry after the opt-out finds it queued already and sends nothing twice.
          const known = await ctx.contacts.find(contact);
          if (ctx.config.confirm && known?.consent !== "opted_out") {
            await confirm(ctx, contact, text, `${event.id}:confirm`);
          }
          await ctx.consent.record(contact, { status: "opted_out", source });
        } else {
          await ctx.consent.record(contact, { status: "opted_in", source });
          if (ctx.config.confirm) await confirm(ctx, contact, text, `${event.id}:confirm`);
        }
        ctx.logger.info("opt_out_keyword", { action: match.action, language: match.language });
      },
    },
  },
});
