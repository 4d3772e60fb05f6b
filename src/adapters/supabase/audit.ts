import type { SupabaseClient } from "@supabase/supabase-js";

export interface AuditEntry {
  clientId: string | null;
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
  requestId?: string;
}

/** Appends one audit record. The table grants no UPDATE or DELETE to any API role. */
export async function audit(db: SupabaseClient, entry: AuditEntry): Promise<void> {
  const { error } = await db.from("audit_log").insert({
    client_id: entry.clientId,
    actor: entry.actor,
    action: entry.action,
    target_type: entry.targetType ?? null,
    target_id: entry.targetId ?? null,
    details: entry.details ?? {},
    request_id: entry.requestId ?? null,
  });
  if (error) throw new Error(`Could not write the audit record: ${error.message}`);
}
