/**
 * The default opt-out (STOP) and opt-in (START) keywords, and how a message is matched to them.
 *
 * A message matches only when it is the keyword alone (any case, with spaces and punctuation
 * around it): "STOP" and " stop! " opt out, "please don't stop" does not.
 *
 * Sources, and what was left out on purpose:
 * - English: STOP, STOPALL, UNSUBSCRIBE, END, QUIT, OPTOUT/OPT-OUT are the US/Canada carriers'
 *   standard opt-out keywords, and START, UNSTOP their opt-in ones (AWS End User Messaging,
 *   https://docs.aws.amazon.com/sms-voice/latest/userguide/opt-out-list-keywords.html; Sinch,
 *   https://community.sinch.com/t5/SMS/Standard-opt-out-keywords-and-advanced-alternatives-for-USA-and/ta-p/14159).
 *   SUBSCRIBE is Sinch's opt-in default for its WhatsApp-capable Conversation API
 *   (https://community.sinch.com/t5/Conversation-API/Can-I-customize-opt-in-and-opt-out-keywords-for-use-with-consent/ta-p/18980).
 *   Left out: CANCEL (here, in reply to an order notification, it means "cancel my order") and
 *   YES (an answer to any question would opt a contact back in).
 * - Spanish: DETENER, SALIR (Sinch's defaults, above) and BAJA, the usual "darse de baja" reply in
 *   Spain; VOLVER, RECIBIR (Sinch) and ALTA, its counterpart, to opt back in. CANCELAR left out,
 *   as CANCEL.
 * - Portuguese: PARAR (Sinch; "parar" is "stop" in Spanish too) and SAIR, the usual Brazilian
 *   "leave the list" reply; VOLTAR, RECEBER (Sinch) to opt back in. CANCELAR left out, as CANCEL.
 * - Hindi: बंद / बंद करो / बंद करें / बंद कीजिए ("turn off", familiar, polite and formal
 *   imperatives, what is said of a service or notifications) and रोको / रोकें ("stop it"); शुरू /
 *   शुरू करो / शुरू करें and चालू करो / चालू करें ("start", "switch on") to opt back in. Many write
 *   Hindi in Latin letters, so BAND KARO / BAND KAREN and SHURU KARO / SHURU KAREN too.
 * - Tamil: நிறுத்து (niruthu, "stop"), நிறுத்துங்கள் (its polite form) and நிறுத்தவும் (the
 *   request form of notices); தொடங்கு / தொடங்குங்கள் / தொடங்கவும் ("start") to opt back in.
 * Clients add their own per language (`stop_keywords`, `start_keywords`) and may turn these off.
 */
export const DEFAULT_KEYWORDS = {
  stop: {
    en: ["STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "END", "QUIT", "OPTOUT", "OPT OUT"],
    es: ["DETENER", "SALIR", "BAJA"],
    pt: ["PARAR", "SAIR"],
    hi: ["बंद", "बंद करो", "बंद करें", "बंद कीजिए", "रोको", "रोकें", "BAND KARO", "BAND KAREN"],
    ta: ["நிறுத்து", "நிறுத்துங்கள்", "நிறுத்தவும்"],
  },
  start: {
    en: ["START", "UNSTOP", "SUBSCRIBE"],
    es: ["VOLVER", "RECIBIR", "ALTA"],
    pt: ["VOLTAR", "RECEBER"],
    hi: ["शुरू", "शुरू करो", "शुरू करें", "चालू करो", "चालू करें", "SHURU KARO", "SHURU KAREN"],
    ta: ["தொடங்கு", "தொடங்குங்கள்", "தொடங்கவும்"],
  },
} as const;

export type Language = keyof typeof DEFAULT_KEYWORDS.stop;
export type Action = "stop" | "start";

/** A keyword found: what it asks for, and the language of the list it came from (if a default). */
export interface Match {
  action: Action;
  keyword: string;
  language: Language | null;
}

/**
 * Longest text worth normalising: longer than any keyword plus the spaces and punctuation a
 * person might add. Every inbound message passes the filter, so most are turned away by length.
 */
export const MAX_MATCH_LENGTH = 80;

// zero-width characters keyboards insert (joiners in Indic scripts, byte order marks)
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF]/g;
// punctuation, symbols (emoji included) and spaces around the keyword
const AROUND = /^[\p{P}\p{S}\p{Z}\s]+|[\p{P}\p{S}\p{Z}\s]+$/gu;
// inside: any run of spaces, hyphens or underscores is one space ("OPT-OUT" is "OPT OUT")
const INSIDE = /[\p{Z}\s_-]+/gu;

/**
 * The form keywords and messages are compared in: Unicode NFKC (full-width letters, composed
 * accents and Indic vowel signs compare equal), invisible characters removed, punctuation and
 * spaces around trimmed, inner spacing collapsed, upper case.
 */
export function normalise(text: string): string {
  return text.normalize("NFKC").replace(INVISIBLE, "").replace(AROUND, "").replace(INSIDE, " ")
    .toUpperCase();
}

/** Keyword → what it does, built once per config (see keywordTable). */
export type KeywordTable = ReadonlyMap<
  string,
  { action: Action; keyword: string; language: Language | null }
>;

/**
 * The table for a config: the defaults (unless turned off) and the client's own. A client's
 * keyword wins over a default with the same spelling, and a keyword in both of a client's lists
 * opts out: when in doubt, stop.
 */
export function keywordTable(config: {
  default_keywords: boolean;
  stop_keywords: readonly string[];
  start_keywords: readonly string[];
}): KeywordTable {
  const table = new Map<string, { action: Action; keyword: string; language: Language | null }>();
  if (config.default_keywords) {
    for (const action of ["start", "stop"] as const) {
      for (const [language, words] of Object.entries(DEFAULT_KEYWORDS[action])) {
        for (const word of words) {
          table.set(normalise(word), { action, keyword: word, language: language as Language });
        }
      }
    }
  }
  for (const word of config.start_keywords) {
    table.set(normalise(word), { action: "start", keyword: word, language: null });
  }
  for (const word of config.stop_keywords) {
    table.set(normalise(word), { action: "stop", keyword: word, language: null });
  }
  table.delete("");
  return table;
}

/** The keyword a message is, or null. */
export function matchKeyword(text: string | null | undefined, table: KeywordTable): Match | null {
  if (!text || text.length > MAX_MATCH_LENGTH) return null;
  return table.get(normalise(text)) ?? null;
}
