/**
 * What text must not hold before it is stored: PostgreSQL refuses NUL in `text` and `jsonb`, and
 * an unpaired surrogate is not valid UTF-8. Names shown to people (key names, client names,
 * consent sources) are single lines without control characters or the bidirectional overrides
 * that make a name display as something else.
 */

const LONE_SURROGATE = /\p{Cs}/u;
const NOT_IN_A_LABEL = /[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069]/u;

export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && !LONE_SURROGATE.test(value);
}

export function isLabel(value: string): boolean {
  return !NOT_IN_A_LABEL.test(value);
}
