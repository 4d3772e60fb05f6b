/**
 * Message templates: Meta's rules, kept in one place and free of I/O.
 * - what a stored template (Meta's component definitions) expects when it is sent: its slots;
 * - whether a send's `template` object fits them (judgeTemplateSend);
 * - whether a new template follows Meta's documented rules before it is submitted
 *   (templateDefinitionProblems);
 * - reading Meta's listing and webhooks (parseGraphTemplate, templateWebhookEvent).
 * Components Meta defines that these rules do not model (carousels, limited-time offers, catalog
 * buttons) are let through for Meta to judge: refusing what we do not understand would refuse
 * valid sends.
 */
import * as z from "zod";
import type { ErrorCode } from "../errors.ts";

/** Meta: lowercase letters, digits and underscores, at most 512 characters */
export const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/;
/** A language code as Meta lists them (en, en_US, pt_BR, prs_AF, fil) */
export const TEMPLATE_LANGUAGE = /^[a-z]{2,3}(_[A-Z]{2})?$/;
/** What the store and filters accept: Meta's codes, and the looser forms older templates carry */
export const STORED_LANGUAGE = /^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$/;
/** Meta's template ids: decimal digits */
export const META_ID = /^[0-9]{1,32}$/;

export const TEMPLATE_CATEGORIES = ["MARKETING", "UTILITY", "AUTHENTICATION"] as const;
/** The statuses Meta's API reports for a template (its webhooks add events such as FLAGGED) */
export const TEMPLATE_STATUSES = [
  "APPROVED",
  "PENDING",
  "REJECTED",
  "PAUSED",
  "DISABLED",
  "IN_APPEAL",
  "PENDING_DELETION",
  "DELETED",
  "ARCHIVED",
  "LIMIT_EXCEEDED",
] as const;
export const QUALITY_SCORES = ["GREEN", "YELLOW", "RED", "UNKNOWN"] as const;

export type ParameterFormat = "POSITIONAL" | "NAMED";

/** A template as the store holds it: Meta's definition and state. */
export interface StoredTemplate {
  name: string;
  language: string;
  status: string;
  category: string | null;
  parameter_format: ParameterFormat;
  /** Meta's component definitions; null while known only from a webhook */
  components: unknown[] | null;
  rejected_reason?: string | null;
}

export interface Problem {
  path: string;
  message: string;
}

// ------------------------------------------------------------------------------------------------
// Variables in template text

/** `{{1}}`, `{{first_name}}`: what Meta accepts between double braces */
const VARIABLE = /\{\{([^{}]*)\}\}/g;
const POSITIONAL_VARIABLE = /^[1-9][0-9]{0,2}$/;
/** Meta: lowercase letters, digits and underscores, starting with a letter or an underscore */
const NAMED_VARIABLE = /^[a-z_][a-z0-9_]{0,99}$/;

interface Variables {
  /** in order of appearance, repeats included */
  names: string[];
  /** why the text's braces are not variables Meta reads, or null */
  malformed: string | null;
}

/** The variables of a text, and whether every double brace in it forms one. */
export function variablesIn(text: string): Variables {
  const names: string[] = [];
  let malformed: string | null = null;
  for (const m of text.matchAll(VARIABLE)) {
    const inner = m[1];
    if (!POSITIONAL_VARIABLE.test(inner) && !NAMED_VARIABLE.test(inner)) {
      malformed ??= `{{${inner}}} is not a variable: use {{1}}, {{2}}, … or a name in ` +
        "lowercase letters, digits and underscores";
    }
    names.push(inner);
  }
  // braces left once the variables are taken out were meant as variables and are broken
  const rest = text.replace(VARIABLE, "");
  if (!malformed && (rest.includes("{{") || rest.includes("}}"))) {
    malformed = "Unbalanced {{ or }}: every variable is written {{1}} or {{name}}";
  }
  return { names, malformed };
}

const distinct = (names: string[]) => [...new Set(names)];

// ------------------------------------------------------------------------------------------------
// Slots: what a stored template expects when it is sent

type HeaderSlot =
  | { kind: "text"; params: string[] }
  | { kind: "media"; type: "image" | "video" | "document" }
  | { kind: "location" }
  | { kind: "other" };

interface ButtonSlot {
  index: number;
  type: string;
  /** the send component's sub_type and parameter this button needs; null: takes none */
  needs: { subType: string; parameter: "text" | "coupon_code" } | null;
  /** sub_types a send may name for this button although it needs nothing */
  optional: string[];
}

export interface TemplateSlots {
  named: boolean;
  header: HeaderSlot | null;
  /** the body's variables: "1", "2", … or names, each once */
  body: string[];
  buttons: ButtonSlot[];
  /** components these rules do not model (carousel, limited-time offer): not checked */
  unmodelled: boolean;
}

// deno-lint-ignore no-explicit-any
type Loose = Record<string, any>;
const isRecord = (v: unknown): v is Loose =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const upper = (v: unknown) => (typeof v === "string" ? v.toUpperCase() : "");

/** The slots of a stored template: what its definition asks of a send. */
export function templateSlots(template: StoredTemplate): TemplateSlots {
  const slots: TemplateSlots = {
    named: template.parameter_format === "NAMED",
    header: null,
    body: [],
    buttons: [],
    unmodelled: false,
  };
  for (const c of template.components ?? []) {
    if (!isRecord(c)) continue;
    const type = upper(c.type);
    if (type === "HEADER") {
      const format = upper(c.format) || "TEXT";
      if (format === "TEXT") {
        slots.header = {
          kind: "text",
          params: distinct(variablesIn(String(c.text ?? "")).names),
        };
      } else if (format === "IMAGE" || format === "VIDEO" || format === "DOCUMENT") {
        slots.header = {
          kind: "media",
          type: format.toLowerCase() as "image" | "video" | "document",
        };
      } else if (format === "LOCATION") slots.header = { kind: "location" };
      else slots.header = { kind: "other" };
    } else if (type === "BODY") {
      slots.body = distinct(variablesIn(String(c.text ?? "")).names);
    } else if (type === "BUTTONS") {
      const buttons = Array.isArray(c.buttons) ? c.buttons : [];
      buttons.forEach((b: unknown, index: number) => {
        const button = isRecord(b) ? b : {};
        const kind = upper(button.type);
        let needs: ButtonSlot["needs"] = null;
        let optional: string[] = [];
        if (kind === "URL" && variablesIn(String(button.url ?? "")).names.length) {
          needs = { subType: "url", parameter: "text" };
        } else if (kind === "COPY_CODE") needs = { subType: "copy_code", parameter: "coupon_code" };
        // authentication templates: the one-time code goes in as the button's URL parameter
        else if (kind === "OTP") needs = { subType: "url", parameter: "text" };
        else if (kind === "QUICK_REPLY") optional = ["quick_reply"];
        else if (kind === "FLOW") optional = ["flow"];
        else if (kind === "URL" || kind === "PHONE_NUMBER" || kind === "VOICE_CALL") optional = [];
        else optional = ["*"];
        slots.buttons.push({ index, type: kind, needs, optional });
      });
    } else if (type !== "FOOTER") slots.unmodelled = true;
  }
  return slots;
}

// ------------------------------------------------------------------------------------------------
// Checking a send against a stored template

/** Why a template send is refused before it is queued (each a 422 of src/core/errors.ts). */
export const TEMPLATE_REFUSALS = [
  "template_not_found",
  "template_not_approved",
  "template_paused",
  "template_disabled",
  "template_parameters_mismatch",
] as const satisfies readonly ErrorCode[];

export type TemplateRefusal = (typeof TEMPLATE_REFUSALS)[number];

export type TemplateVerdict =
  | { ok: true }
  | { ok: false; code: TemplateRefusal; message: string; details: Record<string, unknown> };

/** A send's `template` object (Meta's shape, as POST /v1/messages takes it). */
export interface SendTemplate {
  name: string;
  language: { code: string };
  components?: Array<Loose>;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const listed = (names: string[]) => names.map((n) => `{{${n}}}`).join(", ");

/**
 * Whether `send` may be sent with `stored` (null: the store has no template of that name and
 * language; `languages` are those the name exists in). Refusals name what is wrong, as Meta's
 * 132000, 132001, 132012, 132015 and 132016 would after the fact.
 */
export function judgeTemplateSend(
  stored: StoredTemplate | null,
  languages: readonly string[],
  send: SendTemplate,
): TemplateVerdict {
  const where = `"${send.name}" in ${send.language.code}`;
  if (!stored) {
    return {
      ok: false,
      code: "template_not_found",
      message: languages.length
        ? `No template ${where}; it exists in ${languages.join(", ")}`
        : `No template named "${send.name}" in this WhatsApp Business account`,
      details: { name: send.name, language: send.language.code, languages: [...languages] },
    };
  }
  const state = { name: stored.name, language: stored.language, status: stored.status };
  if (stored.status === "PAUSED") {
    return {
      ok: false,
      code: "template_paused",
      message: `The template ${where} is paused by Meta for low quality; it cannot be sent until ` +
        "it is approved again",
      details: state,
    };
  }
  if (stored.status === "DISABLED") {
    return {
      ok: false,
      code: "template_disabled",
      message: `The template ${where} is disabled by Meta and cannot be sent`,
      details: state,
    };
  }
  if (stored.status !== "APPROVED") {
    return {
      ok: false,
      code: "template_not_approved",
      message: `The template ${where} is ${stored.status.toLowerCase()}, not approved` +
        (stored.status === "REJECTED" && stored.rejected_reason
          ? ` (${stored.rejected_reason})`
          : ""),
      details: { ...state, rejected_reason: stored.rejected_reason ?? null },
    };
  }
  if (stored.components === null) return { ok: true };
  const problems = sendProblems(templateSlots(stored), send.components ?? []);
  if (!problems.length) return { ok: true };
  return {
    ok: false,
    code: "template_parameters_mismatch",
    message: `The parameters do not fit the template ${where}: ${problems[0].message}` +
      (problems.length > 1 ? ` (and ${plural(problems.length - 1, "more problem")})` : ""),
    details: { problems },
  };
}

/** Each way the send's components miss the template's slots. */
export function sendProblems(slots: TemplateSlots, components: Array<Loose>): Problem[] {
  const problems: Problem[] = [];
  const at = (i: number, rest = "") => `template.components.${i}${rest}`;
  let header: { i: number; c: Loose } | null = null;
  let body: { i: number; c: Loose } | null = null;
  const buttons = new Map<number, { i: number; c: Loose }>();

  components.forEach((c, i) => {
    const type = String(c.type ?? "").toLowerCase();
    if (type === "header" || type === "body") {
      if ((type === "header" ? header : body) !== null) {
        problems.push({ path: at(i), message: `Only one ${type} component may be given` });
      } else if (type === "header") header = { i, c };
      else body = { i, c };
    } else if (type === "button") {
      const index = Number(c.index);
      const slot = slots.buttons[index];
      if (!Number.isInteger(index) || !slot) {
        problems.push({
          path: at(i, ".index"),
          message: `The template has ${plural(slots.buttons.length, "button")}; there is no ` +
            `button at index ${c.index}`,
        });
      } else if (buttons.has(index)) {
        problems.push({ path: at(i), message: `Button ${index} is given twice` });
      } else buttons.set(index, { i, c });
    } else if (type === "footer") {
      problems.push({ path: at(i), message: "A footer takes no parameters" });
    } else if (!slots.unmodelled) {
      problems.push({ path: at(i, ".type"), message: `The template has no ${type} component` });
    }
  });

  problems.push(...headerProblems(slots, header));
  problems.push(...textParameterProblems("body", slots.body, slots.named, body));
  slots.buttons.forEach((slot) => problems.push(...buttonProblems(slot, buttons.get(slot.index))));
  return problems;
}

function parametersOf(given: { i: number; c: Loose } | null): Loose[] {
  const p = given?.c.parameters;
  return Array.isArray(p) ? p.filter(isRecord) : [];
}

function headerProblems(slots: TemplateSlots, given: { i: number; c: Loose } | null): Problem[] {
  const path = given ? `template.components.${given.i}.parameters` : "template.components";
  const params = parametersOf(given);
  const slot = slots.header;
  if (!slot || slot.kind === "other") {
    if (!slot && params.length) {
      return [{ path, message: "The template has no header, so it takes no header parameters" }];
    }
    return [];
  }
  if (slot.kind === "text") {
    return textParameterProblems("header", slot.params, slots.named, given);
  }
  const type = slot.kind === "location" ? "location" : slot.type;
  if (params.length !== 1 || params[0].type !== type) {
    return [{
      path,
      message:
        `The template's header is ${
          type === "image" ? "an image" : `a ${type}`
        }: give one header parameter of type ${type}` +
        (params.length ? ` (given: ${params.map((p) => p.type).join(", ")})` : ""),
    }];
  }
  const media = params[0][type];
  if (type !== "location" && !(isRecord(media) && (media.id || media.link))) {
    return [{ path: `${path}.0.${type}`, message: `The header ${type} needs an id or a link` }];
  }
  return [];
}

function textParameterProblems(
  where: "header" | "body",
  expected: string[],
  named: boolean,
  given: { i: number; c: Loose } | null,
): Problem[] {
  const path = given ? `template.components.${given.i}.parameters` : "template.components";
  const params = parametersOf(given);
  if (!named) {
    if (params.length === expected.length) return [];
    return [{
      path,
      message: expected.length
        ? `The ${where} takes ${plural(expected.length, "parameter")} (${
          listed(expected)
        }); ${params.length} given`
        : `The ${where} takes no parameters; ${params.length} given`,
    }];
  }
  const names = params.map((p) => p.parameter_name);
  const problems: Problem[] = [];
  const unnamed = names.findIndex((n) => typeof n !== "string" || !n);
  if (unnamed >= 0) {
    problems.push({
      path: `${path}.${unnamed}.parameter_name`,
      message: `The template uses named parameters: each ${where} parameter needs parameter_name`,
    });
  }
  const missing = expected.filter((n) => !names.includes(n));
  const unknown = distinct(names.filter((n): n is string => typeof n === "string" && !!n))
    .filter((n) => !expected.includes(n));
  const repeated = names.filter((n, i) => typeof n === "string" && names.indexOf(n) !== i);
  if (missing.length) {
    problems.push({
      path,
      message: `The ${where} is missing ${plural(missing.length, "parameter")}: ${listed(missing)}`,
    });
  }
  if (unknown.length) {
    problems.push({
      path,
      message:
        `The ${where} has no ${unknown.length === 1 ? "parameter" : "parameters"} ${
          listed(unknown)
        }` +
        (expected.length ? ` (it takes ${listed(expected)})` : ""),
    });
  }
  if (repeated.length) {
    problems.push({
      path,
      message: `The ${where} parameter ${listed(distinct(repeated as string[]))} is given ` +
        "more than once",
    });
  }
  return problems;
}

function buttonProblems(slot: ButtonSlot, given: { i: number; c: Loose } | undefined): Problem[] {
  const label = `Button ${slot.index} (${slot.type.toLowerCase()})`;
  if (!given) {
    if (!slot.needs) return [];
    return [{
      path: "template.components",
      message: `${label} needs a button component with sub_type ${slot.needs.subType}, index ` +
        `${slot.index} and one ${slot.needs.parameter} parameter`,
    }];
  }
  const path = `template.components.${given.i}`;
  const subType = String(given.c.sub_type ?? "").toLowerCase();
  const params = parametersOf(given);
  if (!slot.needs) {
    if (slot.optional.includes("*") || slot.optional.includes(subType)) return [];
    return [{
      path: `${path}.sub_type`,
      message: slot.optional.length
        ? `${label} takes sub_type ${slot.optional.join(" or ")}, not ${subType || "none"}`
        : `${label} takes no parameters`,
    }];
  }
  const problems: Problem[] = [];
  if (subType !== slot.needs.subType) {
    problems.push({
      path: `${path}.sub_type`,
      message: `${label} needs sub_type ${slot.needs.subType}, not ${subType || "none"}`,
    });
  }
  const kind = slot.needs.parameter;
  if (params.length !== 1 || params[0].type !== kind) {
    problems.push({
      path: `${path}.parameters`,
      message: `${label} takes one ${kind} parameter` +
        (params.length ? ` (given: ${params.map((p) => p.type).join(", ")})` : "; none given"),
    });
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------
// Meta's rules for a new template

export interface TemplateDefinition {
  name: string;
  language: string;
  category: string;
  parameter_format?: ParameterFormat;
  components: Array<Loose>;
}

const LIMITS = {
  headerText: 60,
  bodyText: 1024,
  footerText: 60,
  buttonText: 25,
  buttons: 10,
  urlButtons: 2,
  phoneButtons: 1,
  copyCodeButtons: 1,
  url: 2000,
  phoneNumber: 20,
  couponCode: 15,
};

/**
 * Each way `def` breaks a rule Meta documents for creating templates, so a client hears it at
 * once, with the field named, instead of after a rejection: one body (with text, 1,024
 * characters at most), at most one header (text of 60 characters with one variable, or media
 * with an example), a footer of 60 characters without variables, at most 10 buttons (2 URL, 1
 * phone number, 1 copy code; quick replies grouped together), variables {{1}}, {{2}}, … in order
 * from 1 (or, with parameter_format NAMED, names), never at the very start or end of the body nor
 * side by side, each with an example value. Authentication templates follow their own shape
 * (Meta writes their text): a body with no text, an optional code-expiry footer, one OTP button.
 */
export function templateDefinitionProblems(def: TemplateDefinition): Problem[] {
  const problems: Problem[] = [];
  const named = def.parameter_format === "NAMED";
  const seen = new Map<string, number>();
  def.components.forEach((c, i) => {
    const type = upper(c.type);
    if (seen.has(type)) {
      problems.push({
        path: `components.${i}.type`,
        message: `A template has at most one ${type} component`,
      });
    } else seen.set(type, i);
  });
  if (!seen.has("BODY")) {
    problems.push({ path: "components", message: "A template needs a BODY component" });
  }
  const auth = def.category === "AUTHENTICATION";
  const variables: Array<{ where: string; names: string[] }> = [];

  def.components.forEach((c, i) => {
    const path = `components.${i}`;
    const type = upper(c.type);
    if (auth) {
      problems.push(...authenticationProblems(type, c, path));
      return;
    }
    if (type === "HEADER") {
      const format = upper(c.format);
      if (format === "TEXT") {
        const text = String(c.text ?? "");
        if (!text) problems.push({ path: `${path}.text`, message: "A text header needs text" });
        if (text.length > LIMITS.headerText) {
          problems.push({
            path: `${path}.text`,
            message: `A text header is at most ${LIMITS.headerText} characters`,
          });
        }
        const v = textVariables(text, `${path}.text`, named, problems);
        if (v.length > 1) {
          problems.push({
            path: `${path}.text`,
            message: "A text header takes one variable at most",
          });
        }
        problems.push(...exampleProblems(c, v, named, "header", path));
        variables.push({ where: "header", names: v });
      } else if (["IMAGE", "VIDEO", "DOCUMENT"].includes(format)) {
        const handles = c.example?.header_handle;
        if (!Array.isArray(handles) || handles.length !== 1 || typeof handles[0] !== "string") {
          problems.push({
            path: `${path}.example.header_handle`,
            message: `A ${format.toLowerCase()} header needs example.header_handle: one uploaded ` +
              "media handle",
          });
        }
      }
    } else if (type === "BODY") {
      const text = String(c.text ?? "");
      if (!text.trim()) problems.push({ path: `${path}.text`, message: "The body needs text" });
      if (text.length > LIMITS.bodyText) {
        problems.push({
          path: `${path}.text`,
          message: `The body is at most ${LIMITS.bodyText} characters`,
        });
      }
      const v = textVariables(text, `${path}.text`, named, problems);
      problems.push(...placementProblems(text, `${path}.text`));
      problems.push(...exampleProblems(c, v, named, "body", path));
      variables.push({ where: "body", names: v });
    } else if (type === "FOOTER") {
      const text = String(c.text ?? "");
      if (!text) problems.push({ path: `${path}.text`, message: "A footer needs text" });
      if (text.length > LIMITS.footerText) {
        problems.push({
          path: `${path}.text`,
          message: `A footer is at most ${LIMITS.footerText} characters`,
        });
      }
      if (variablesIn(text).names.length) {
        problems.push({ path: `${path}.text`, message: "A footer cannot hold variables" });
      }
    } else if (type === "BUTTONS") {
      problems.push(...buttonDefinitionProblems(c, path, def.category));
    }
  });
  if (named) {
    const all = variables.flatMap((v) => v.names);
    const twice = all.filter((n, i) => all.indexOf(n) !== i);
    if (twice.length) {
      problems.push({
        path: "components",
        message: `Named variables must be unique across the header and body: ${
          listed(distinct(twice))
        }`,
      });
    }
  }
  return problems;
}

/** The distinct variables of a header or body text, their form checked against the format. */
function textVariables(text: string, path: string, named: boolean, problems: Problem[]) {
  const v = variablesIn(text);
  if (v.malformed) problems.push({ path, message: v.malformed });
  const names = distinct(v.names);
  const wrong = names.filter((n) =>
    named ? !NAMED_VARIABLE.test(n) || POSITIONAL_VARIABLE.test(n) : !POSITIONAL_VARIABLE.test(n)
  );
  if (wrong.length) {
    problems.push({
      path,
      message: named
        ? `With parameter_format NAMED, variables are names such as {{first_name}}: ${
          listed(wrong)
        }`
        : `Variables are numbered {{1}}, {{2}}, … (or set parameter_format NAMED): ${
          listed(wrong)
        }`,
    });
    return names;
  }
  if (!named) {
    const numbers = names.map(Number).sort((a, b) => a - b);
    if (numbers.some((n, i) => n !== i + 1)) {
      problems.push({
        path,
        message: `Variables are numbered in order from {{1}} without gaps: found ${
          numbers.map((n) => `{{${n}}}`).join(", ")
        }`,
      });
    }
  }
  return names;
}

/** Meta rejects a body that starts or ends with a variable, or has two side by side. */
function placementProblems(text: string, path: string): Problem[] {
  const problems: Problem[] = [];
  const trimmed = text.trim();
  if (/^\{\{[^{}]*\}\}/.test(trimmed) || /\{\{[^{}]*\}\}$/.test(trimmed)) {
    problems.push({ path, message: "The body cannot start or end with a variable" });
  }
  if (/\}\}\s*\{\{/.test(text)) {
    problems.push({ path, message: "Two variables cannot stand side by side: put text between" });
  }
  return problems;
}

/** Each variable needs an example value, in Meta's example shape for the format. */
function exampleProblems(
  c: Loose,
  names: string[],
  named: boolean,
  where: "header" | "body",
  path: string,
): Problem[] {
  if (!names.length) return [];
  if (named) {
    const key = `${where}_text_named_params`;
    const given = c.example?.[key];
    const list = Array.isArray(given) ? given.filter(isRecord) : [];
    const missing = names.filter((n) =>
      !list.some((p) => p.param_name === n && typeof p.example === "string" && p.example)
    );
    return missing.length
      ? [{
        path: `${path}.example.${key}`,
        message: `Each variable needs an example {param_name, example}: missing ${listed(missing)}`,
      }]
      : [];
  }
  const given = where === "header" ? c.example?.header_text : c.example?.body_text?.[0];
  const ok = Array.isArray(given) && given.length === names.length &&
    given.every((v: unknown) => typeof v === "string" && v.length > 0);
  if (ok) return [];
  return [{
    path: `${path}.example.${where === "header" ? "header_text" : "body_text"}`,
    message: where === "header"
      ? "The header's variable needs an example: example.header_text [value]"
      : `Each of the body's ${plural(names.length, "variable")} needs an example value: ` +
        `example.body_text [[${names.map((_, i) => `value ${i + 1}`).join(", ")}]]`,
  }];
}

function buttonDefinitionProblems(c: Loose, path: string, category: string): Problem[] {
  const problems: Problem[] = [];
  const buttons = Array.isArray(c.buttons) ? c.buttons.filter(isRecord) : [];
  if (!buttons.length || buttons.length > LIMITS.buttons) {
    return [{
      path: `${path}.buttons`,
      message: `A BUTTONS component holds 1 to ${LIMITS.buttons} buttons`,
    }];
  }
  const types = buttons.map((b) => upper(b.type));
  const count = (t: string) => types.filter((x) => x === t).length;
  if (count("URL") > LIMITS.urlButtons) {
    problems.push({ path: `${path}.buttons`, message: "At most 2 URL buttons" });
  }
  if (count("PHONE_NUMBER") > LIMITS.phoneButtons) {
    problems.push({ path: `${path}.buttons`, message: "At most 1 phone number button" });
  }
  if (count("COPY_CODE") > LIMITS.copyCodeButtons) {
    problems.push({ path: `${path}.buttons`, message: "At most 1 copy code button" });
  }
  if (count("COPY_CODE") && category !== "MARKETING") {
    problems.push({
      path: `${path}.buttons`,
      message: "Copy code buttons are for MARKETING templates only",
    });
  }
  // quick replies stand together, before or after the other buttons, never between them
  const firstQr = types.indexOf("QUICK_REPLY");
  const lastQr = types.lastIndexOf("QUICK_REPLY");
  if (firstQr >= 0 && types.slice(firstQr, lastQr + 1).some((t) => t !== "QUICK_REPLY")) {
    problems.push({
      path: `${path}.buttons`,
      message: "Quick reply buttons must be grouped together, not mixed between other buttons",
    });
  }
  buttons.forEach((b, i) => {
    const at = `${path}.buttons.${i}`;
    const type = upper(b.type);
    if (type !== "COPY_CODE") {
      const text = typeof b.text === "string" ? b.text : "";
      if (!text || text.length > LIMITS.buttonText) {
        problems.push({
          path: `${at}.text`,
          message: `A button's text is 1 to ${LIMITS.buttonText} characters`,
        });
      }
    }
    if (type === "URL") {
      const url = typeof b.url === "string" ? b.url : "";
      const v = variablesIn(url);
      if (!/^https?:\/\/\S+$/.test(url) || url.length > LIMITS.url) {
        problems.push({
          path: `${at}.url`,
          message: `A URL button needs an http(s) URL of at most ${LIMITS.url} characters`,
        });
      } else if (v.malformed || v.names.length > 1 || (v.names.length && v.names[0] !== "1")) {
        problems.push({
          path: `${at}.url`,
          message: "A URL button takes one variable at most, {{1}}, at the end of the URL",
        });
      } else if (v.names.length && !url.endsWith("{{1}}")) {
        problems.push({ path: `${at}.url`, message: "The URL's {{1}} must come at its end" });
      } else if (v.names.length) {
        const example = b.example;
        const ok = Array.isArray(example) && example.length === 1 &&
          typeof example[0] === "string" && example[0].length > 0;
        if (!ok) {
          problems.push({
            path: `${at}.example`,
            message: "A URL with {{1}} needs an example: [full example URL]",
          });
        }
      }
    } else if (type === "PHONE_NUMBER") {
      const phone = typeof b.phone_number === "string" ? b.phone_number : "";
      if (!/^\+?[0-9]{4,19}$/.test(phone)) {
        problems.push({
          path: `${at}.phone_number`,
          message: `A phone number button needs a phone number of at most ${LIMITS.phoneNumber} ` +
            "characters, digits with an optional leading +",
        });
      }
    } else if (type === "COPY_CODE") {
      const example = typeof b.example === "string" ? b.example : "";
      if (!example || example.length > LIMITS.couponCode) {
        problems.push({
          path: `${at}.example`,
          message: `A copy code button needs an example code of 1 to ${LIMITS.couponCode} ` +
            "characters",
        });
      }
    } else if (type === "OTP") {
      problems.push({
        path: `${at}.type`,
        message: "OTP buttons are for AUTHENTICATION templates only",
      });
    }
  });
  return problems;
}

function authenticationProblems(type: string, c: Loose, path: string): Problem[] {
  if (type === "BODY") {
    return c.text !== undefined
      ? [{
        path: `${path}.text`,
        message: "An authentication template's body text is Meta's own: give no text " +
          "(add_security_recommendation may be set)",
      }]
      : [];
  }
  if (type === "FOOTER") {
    const minutes = c.code_expiration_minutes;
    if (
      c.text !== undefined || (minutes !== undefined &&
        !(Number.isInteger(minutes) && minutes >= 1 && minutes <= 90))
    ) {
      return [{
        path: `${path}.code_expiration_minutes`,
        message: "An authentication template's footer takes only code_expiration_minutes (1 to 90)",
      }];
    }
    return [];
  }
  if (type === "BUTTONS") {
    const buttons = Array.isArray(c.buttons) ? c.buttons.filter(isRecord) : [];
    const otp = buttons[0];
    if (
      buttons.length !== 1 || upper(otp.type) !== "OTP" ||
      !["COPY_CODE", "ONE_TAP", "ZERO_TAP"].includes(upper(otp.otp_type))
    ) {
      return [{
        path: `${path}.buttons`,
        message: "An authentication template has one OTP button with otp_type COPY_CODE, " +
          "ONE_TAP or ZERO_TAP",
      }];
    }
    return [];
  }
  return [{
    path: `${path}.type`,
    message: "An authentication template has a BODY, an optional FOOTER and BUTTONS only",
  }];
}

// ------------------------------------------------------------------------------------------------
// Reading Meta

/** What the sync stores of one template of Meta's listing. */
export interface TemplateRow {
  meta_template_id: string;
  name: string;
  language: string;
  category: string | null;
  status: string;
  quality_score: string | null;
  parameter_format: ParameterFormat;
  components: unknown[];
  rejected_reason: string | null;
}

/** Meta's words (statuses, categories, scores): upper case, bounded */
const word = z.string().regex(/^[A-Z][A-Z0-9_]{0,39}$/);
/** a template's definition as Meta returns it is a few kilobytes at most */
const MAX_COMPONENTS_JSON = 65_536;

const graphTemplateSchema = z.looseObject({
  id: z.union([z.string().regex(META_ID), z.int().nonnegative().transform(String)]),
  name: z.string().regex(TEMPLATE_NAME),
  language: z.string().regex(STORED_LANGUAGE),
  status: word,
  category: word.nullish(),
  components: z.array(z.unknown()).max(50).nullish(),
  parameter_format: z.enum(["POSITIONAL", "NAMED"]).nullish(),
  quality_score: z.looseObject({ score: word.nullish() }).nullish(),
  rejected_reason: z.string().max(1000).nullish(),
});

/** One template of Meta's listing as the store keeps it, or why it cannot be kept. */
export function parseGraphTemplate(raw: unknown): TemplateRow | { problem: string } {
  const parsed = graphTemplateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${issue.path.join(".") || "(template)"}: ${issue.message}` };
  }
  const t = parsed.data;
  const components = t.components ?? [];
  if (JSON.stringify(components).length > MAX_COMPONENTS_JSON) {
    return { problem: "components: larger than a template can be" };
  }
  return {
    meta_template_id: t.id,
    name: t.name,
    language: t.language,
    category: t.category ?? null,
    status: t.status,
    quality_score: t.quality_score?.score ?? null,
    parameter_format: t.parameter_format ?? "POSITIONAL",
    components,
    // Meta answers "NONE" when nothing was rejected
    rejected_reason: t.rejected_reason && t.rejected_reason !== "NONE" ? t.rejected_reason : null,
  };
}

/** A template webhook as the store applies it (see public.apply_template_events). */
export interface TemplateEvent {
  waba_id: string;
  kind: "status" | "quality" | "category";
  meta_template_id: string | null;
  name: string | null;
  language: string | null;
  status?: string | null;
  reason?: string | null;
  category?: string | null;
  quality_score?: string | null;
}

export const TEMPLATE_WEBHOOK_FIELDS = [
  "message_template_status_update",
  "message_template_quality_update",
  "template_category_update",
] as const;

/**
 * Meta's status events as the statuses they leave a template in. REINSTATED ends a pause; FLAGGED
 * (a warning), UNARCHIVED and events not listed here say something changed without saying the
 * status: the store asks Meta (a sync) instead of guessing.
 */
const STATUS_OF_EVENT: Record<string, string> = {
  APPROVED: "APPROVED",
  REJECTED: "REJECTED",
  PENDING: "PENDING",
  PAUSED: "PAUSED",
  DISABLED: "DISABLED",
  IN_APPEAL: "IN_APPEAL",
  PENDING_DELETION: "PENDING_DELETION",
  DELETED: "DELETED",
  ARCHIVED: "ARCHIVED",
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  REINSTATED: "APPROVED",
};

const templateRef = {
  message_template_id: z.union([z.string().regex(META_ID), z.int().nonnegative()]).nullish(),
  message_template_name: z.string().regex(TEMPLATE_NAME).nullish(),
  message_template_language: z.string().regex(STORED_LANGUAGE).nullish(),
};
const statusValue = z.looseObject({
  ...templateRef,
  event: word,
  reason: z.string().max(1000).nullish(),
  message_template_category: word.nullish(),
});
const qualityValue = z.looseObject({ ...templateRef, new_quality_score: word });
const categoryValue = z.looseObject({
  ...templateRef,
  new_category: word,
  // only a completed change names the previous category; an impending one names correct_category
  previous_category: word.nullish(),
});

/**
 * A template webhook change (its field and value) as a store event, or null when the value is
 * not one these fields document (it stays in the account events, as every field does).
 */
export function templateWebhookEvent(
  wabaId: string,
  field: string,
  value: unknown,
): TemplateEvent | null {
  const ref = (v: {
    message_template_id?: string | number | null;
    message_template_name?: string | null;
    message_template_language?: string | null;
  }) => ({
    waba_id: wabaId,
    meta_template_id: v.message_template_id == null ? null : String(v.message_template_id),
    name: v.message_template_name ?? null,
    language: v.message_template_language ?? null,
  });
  if (field === "message_template_status_update") {
    const v = statusValue.safeParse(value);
    if (!v.success) return null;
    return {
      ...ref(v.data),
      kind: "status",
      // an event that names no status still tells the store something changed (a sync follows)
      status: STATUS_OF_EVENT[v.data.event] ?? null,
      reason: v.data.reason && v.data.reason !== "NONE" ? v.data.reason : null,
      category: v.data.message_template_category ?? null,
    };
  }
  if (field === "message_template_quality_update") {
    const v = qualityValue.safeParse(value);
    return v.success
      ? { ...ref(v.data), kind: "quality", quality_score: v.data.new_quality_score }
      : null;
  }
  if (field === "template_category_update") {
    const v = categoryValue.safeParse(value);
    if (!v.success || !v.data.previous_category) return null;
    return { ...ref(v.data), kind: "category", category: v.data.new_category };
  }
  return null;
}
