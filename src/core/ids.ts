/**
 * A UUID as RFC 9562 writes it (version 1–8, variant 10xx), or the nil and max UUIDs: the same rule
 * as zod's `z.uuid()`, for code that checks ids without a schema. Our ids are version 4
 * (`gen_random_uuid()`); anything else in the UUID shape would only ever be "not found", and a
 * string PostgreSQL cannot cast never reaches a query.
 */
const UUID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
