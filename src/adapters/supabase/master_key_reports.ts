import type { Db } from "./database.ts";

/** What one running app instance holds (supabase/migrations/20261202000710_master_key_reports.sql). */
export interface MasterKeyReport {
  instance: string;
  /** `version:fingerprint` of every master key it holds (masterKeyFingerprints) */
  keys: string[];
  active: string;
  reported_at: string;
  expires_at: string;
}

/** The app's reports of the master keys it holds, read by `deno task keys rotate`. Service role. */
export function masterKeyReports(service: Db) {
  return {
    async report(
      instance: string,
      report: { keys: string[]; active: string; ttlSeconds: number },
    ): Promise<void> {
      const { error } = await service.rpc("report_master_keys", {
        instance,
        keys: report.keys,
        active: report.active,
        ttl_seconds: report.ttlSeconds,
      });
      if (error) throw new Error(`Could not report the master keys: ${error.message}`);
    },
    async withdraw(instance: string): Promise<void> {
      const { error } = await service.rpc("withdraw_master_key_report", { instance });
      if (error) throw new Error(`Could not withdraw the master key report: ${error.message}`);
    },
    async standing(): Promise<MasterKeyReport[]> {
      const { data, error } = await service.rpc("standing_master_key_reports");
      if (error) throw new Error(`Could not read the master key reports: ${error.message}`);
      return data as MasterKeyReport[];
    },
  };
}
