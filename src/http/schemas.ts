import { z } from "@hono/zod-openapi";

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "unauthorized" }),
    message: z.string().openapi({ example: "Unknown API key" }),
    request_id: z.string().nullable(),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

const errorResponse = (description: string) => ({
  content: { "application/json": { schema: ErrorSchema } },
  description,
});

/** The error responses every authenticated route can give. */
export const AUTH_ERRORS = {
  400: errorResponse("The request is malformed or fails validation"),
  401: errorResponse("Missing, unknown, revoked or expired credential"),
  403: errorResponse("The credential lacks the scope this route needs"),
  429: errorResponse("Too many failed authentication attempts; see Retry-After"),
} as const;

export const notFoundResponse = errorResponse("No such resource for this client");
