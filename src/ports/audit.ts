export interface AuditEntry {
  clientId: string | null;
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
  requestId?: string;
}

/** The append-only audit log: no API role may change or delete a record once written. */
export interface AuditLog {
  /** under the client's row-level security when `entry.clientId` is set */
  record(entry: AuditEntry): Promise<void>;
}
