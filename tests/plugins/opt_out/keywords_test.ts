import assert from "node:assert/strict";
import {
  DEFAULT_KEYWORDS,
  keywordTable,
  matchKeyword,
  MAX_MATCH_LENGTH,
  normalise,
} from "../../../plugins/opt_out/keywords.ts";
import { OptOutConfig } from "../../../plugins/opt_out/mod.ts";

const defaults = keywordTable(OptOutConfig.parse({}));
const action = (text: string, table = defaults) => matchKeyword(text, table)?.action ?? null;

Deno.test("matchKeyword() finds STOP in any case, with spaces, punctuation or an emoji around it", () => {
  for (
    const text of ["STOP", "stop", " Stop ", "\tsToP\n", "STOP.", "stop!!", "🛑 stop", "ＳＴＯＰ"]
  ) {
    assert.equal(action(text), "stop", JSON.stringify(text));
  }
  assert.equal(action("opt-out"), "stop");
  assert.equal(action("Opt   Out"), "stop");
  assert.equal(action("start"), "start");
});

Deno.test("matchKeyword() matches the whole message only", () => {
  for (
    const text of ["don't stop", "stop it please", "STOPPED", "start the order", "", "s t o p"]
  ) {
    assert.equal(action(text), null, JSON.stringify(text));
  }
  assert.equal(matchKeyword(null, defaults), null);
  assert.equal(action(`${" ".repeat(MAX_MATCH_LENGTH)}STOP`), null, "too long to be a keyword");
});

Deno.test("every default keyword matches itself, and says its language", () => {
  for (const act of ["stop", "start"] as const) {
    for (const [language, words] of Object.entries(DEFAULT_KEYWORDS[act])) {
      for (const word of words) {
        const m = matchKeyword(word.toLowerCase(), defaults);
        assert.equal(m?.action, act, word);
        assert.equal(m?.language, language, word);
      }
    }
  }
});

Deno.test("the defaults leave out CANCEL and YES, which mean something else in a reply", () => {
  for (const text of ["CANCEL", "cancelar", "YES", "si"]) assert.equal(action(text), null, text);
});

Deno.test("Devanagari and Tamil keywords match in composed or decomposed form and with zero-width joiners", () => {
  // the same word, written with a decomposed nukta-free form and an invisible joiner
  assert.equal(action("बंद\u200D करो"), "stop");
  assert.equal(action("நிறுத்து".normalize("NFD")), "stop");
  assert.equal(action("  நிறுத்தவும் . "), "stop");
  assert.equal(action("शुरू करें"), "start");
});

Deno.test("a client's keywords are added to the defaults, can replace them, and a word in both of its lists stops", () => {
  const own = keywordTable(OptOutConfig.parse({
    default_keywords: false,
    stop_keywords: ["Arrêt", "PAUSA"],
    start_keywords: ["reprendre", "pausa"],
  }));
  assert.equal(action("ARRET", own), null, "accents are kept: ARRET is not ARRÊT");
  assert.equal(action("arrêt", own), "stop");
  assert.equal(action("REPRENDRE", own), "start");
  assert.equal(action("pausa", own), "stop");
  assert.equal(action("STOP", own), null, "the defaults are off");
  assert.equal(matchKeyword("arrêt", own)?.language, null);
});

Deno.test("normalise() folds width, case and inner spacing, and keeps letters", () => {
  assert.equal(normalise(" ＯＰＴ_out! "), "OPT OUT");
  assert.equal(normalise("¡BAJA!"), "BAJA");
});
