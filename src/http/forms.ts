import type { Context } from "hono";
import { AppError } from "../core/errors.ts";

/**
 * The text fields of a submitted form. A body that does not parse as the form its Content-Type
 * claims (a broken multipart boundary, say) is the sender's mistake: 400, never a 500. Files are
 * dropped: no form of ours takes one.
 */
export async function readForm(c: Context): Promise<Record<string, string>> {
  let body: Record<string, unknown>;
  try {
    body = await c.req.parseBody();
  } catch {
    throw new AppError(400, "invalid_request", "The form could not be read");
  }
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === "string") fields[name] = value;
  }
  return fields;
}
