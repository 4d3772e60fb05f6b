/**
 * A store refused what a call carried (a value of the wrong form, a constraint, a limit): the same
 * call would fail again, and the same content without the offending part would not. Any other
 * error a store throws failed around the content (no answer, the database unavailable, a
 * deadlock) and is worth retrying as it was. Adapters decide which is which
 * (adapters/supabase/refused.ts); services only tell the two apart.
 */
export class StoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreRefused";
  }
}
