import { DatabaseError } from "../../core/errors.ts";

/** The result's data, or a DatabaseError naming what failed. */
export function checked<T>(
  result: { data: T | null; error: { message: string; code?: string | null } | null },
  what: string,
): T {
  if (result.error) throw new DatabaseError(what, result.error);
  return result.data as T;
}
