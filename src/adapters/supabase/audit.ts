import type { Db } from "./database.ts";
import type { AuditEntry, AuditLog } from "../../ports/audit.ts";
import type { DatabaseAccess } from "./database.ts";

export type { AuditEntry };

/** Appends one audit record. The table grants no UPDATE or DELETE to any API role. */
export async function audit(db: Db, entry: AuditEntry): Promise<void> {
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

/** The port: a client's record is written under that client's row-level security. */
export function auditLog(db: DatabaseAccess): AuditLog {
  return {
    record: (entry) =>
      audit(entry.clientId === null ? db.service : db.forClient(entry.clientId), entry),
  };
}
