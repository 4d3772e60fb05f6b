import { z } from "@hono/zod-openapi";
import { isLabel, isStorableText } from "../core/text.ts";
import { ERROR_CODES, type ErrorCode } from "../core/errors.ts";

const CODES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

const statusOf = (code: ErrorCode) => ERROR_CODES[code].status ?? "any";

/** Every error code with its status and meaning, as a Markdown table. */
export function errorCodeTable(): string {
  return [
    "| code | status | meaning |",
    "| --- | --- | --- |",
    ...CODES.map((code) => `| \`${code}\` | ${statusOf(code)} | ${ERROR_CODES[code].meaning} |`),
  ].join("\n");
}

export const ErrorCodeSchema = z.enum(CODES).openapi("ErrorCode", {
  description: "A stable code to branch on; more may be added, so treat one you do not know by " +
    `its HTTP status.\n\n${errorCodeTable()}`,
});

export const ErrorSchema = z.object({
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string().openapi({ example: "Unknown API key" }),
    request_id: z.string().nullable(),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

/**
 * An error response naming the codes it can carry, each with its meaning, so the reference shows
 * what each route's refusals mean; every code given must answer with this response's status.
 */
export function errorResponse(...codes: [ErrorCode, ...ErrorCode[]]) {
  return {
    content: { "application/json": { schema: ErrorSchema } },
    description: codes.map((code) => `\`${code}\`: ${ERROR_CODES[code].meaning}`).join("; "),
  };
}

/** The error responses every authenticated route can give. */
export const AUTH_ERRORS = {
  400: errorResponse("invalid_request"),
  401: errorResponse("unauthorized"),
  403: errorResponse("forbidden"),
  413: errorResponse("payload_too_large"),
  429: errorResponse("too_many_failed_attempts"),
} as const;

/** The error a route that reads a JSON body gives to any other content type. */
export const BODY_ERRORS = {
  415: errorResponse("unsupported_media_type"),
} as const;

export const notFoundResponse = errorResponse("not_found");

/**
 * Shared rules for values that reach the database. Every path, query and body value a route
 * passes to a query is checked by one of these first, so PostgreSQL never sees a string it cannot
 * cast or store (that would be a 500 for the client's mistake).
 */

/** Our ids (RFC 9562: version and variant checked) */
export const Uuid = z.uuid();

/** Path `{id}` of every route that names one of our rows */
export const IdParams = z.object({ id: Uuid });

/** Page sizes: every list answers 1 to 200 items at a time */
export const Limit = z.coerce.number().int().min(1).max(200).default(50);

const EARLIEST = Date.parse("0001-01-01T00:00:00Z");
const OFFSET = /([+-])(\d\d):(\d\d)$/;

/**
 * An ISO 8601 time with its offset (`Z` or `±hh:mm`), as `timestamptz` stores it. zod's format
 * alone lets through what PostgreSQL refuses: the year 0000 and offsets beyond ±15:59; real
 * offsets stay within ±14:00.
 */
export const IsoTime = z.iso.datetime({ offset: true }).refine((value) => {
  const offset = OFFSET.exec(value);
  const minutes = offset ? Number(offset[2]) * 60 + Number(offset[3]) : 0;
  return minutes <= 14 * 60 && !value.startsWith("0000") && Date.parse(value) >= EARLIEST;
}, { error: "Must be a time from the year 0001 on, with an offset within ±14:00" }).openapi({
  example: "2026-12-01T08:00:00Z",
});

/** A one-line name stored as text: trimmed, 1 to `max` characters, no control characters. */
export const label = (max: number) =>
  z.string().trim().min(1).max(max).refine(isLabel, {
    error: "Must not contain control characters, unpaired surrogates or bidirectional overrides",
  });

/** Free text stored as text: at most `max` characters, no NUL or unpaired surrogates. */
export const text = (max: number) =>
  z.string().max(max).refine(isStorableText, {
    error: "Must not contain NUL characters or unpaired surrogates",
  });
