import type { SupabaseClient } from "@supabase/supabase-js";
import {
  type MasterKeyReport,
  masterKeyReports,
} from "../src/adapters/supabase/master_key_reports.ts";
import { type Keyring, masterKeyFingerprints } from "../src/core/crypto/envelope.ts";

/**
 * Why re-wrapping every data key under `keyring.active` would lock a running app out, or null when
 * it would not. The CLI cannot see the app's configuration (Workers secrets, another machine's
 * environment, the local stack's secrets file), so it goes by what the app reports at each sweep:
 * the fingerprints of the master keys each running instance holds. Every standing report must hold
 * this very key (the same bytes, not only the same version name), and at least one must stand.
 */
export async function rotationRefusal(
  keyring: Keyring,
  service: SupabaseClient,
): Promise<string | null> {
  const target = keyring.active;
  const fingerprint = (await masterKeyFingerprints(keyring))
    .find((k) => k.startsWith(`${target}:`))!;
  const standing = await masterKeyReports(service).standing();
  const lacking = standing.filter((r) => !r.keys.includes(fingerprint));
  if (standing.length && !lacking.length) return null;

  const describe = (r: MasterKeyReport) => {
    const held = r.keys.map((k) => k.slice(0, k.lastIndexOf(":")));
    const other = held.includes(target) ? ` (its ${target} is a different key)` : "";
    return `  instance ${r.instance.slice(0, 8)}: holds ${held.join(", ")}${other}; ` +
      `reported ${r.reported_at}, counts until ${r.expires_at}`;
  };
  const problem = standing.length
    ? `${lacking.length} of ${standing.length} running app instance(s) do not hold master key ` +
      `${target}: re-wrapping the data keys under it would leave them unable to read any ` +
      `client's data.\n${lacking.slice(0, 10).map(describe).join("\n")}\n`
    : `no running app has reported the master keys it holds, so nothing shows that it could ` +
      `read data keys wrapped under ${target}.\n`;
  return problem +
    `Add ${target} to MASTER_KEYS everywhere the app runs, keeping the keys already there ` +
    `(the value is the whole list: "v1:…,${target}:…"):
  Workers       deno task wrangler secret put MASTER_KEYS (deploys the new value at once)
  local stack   append ",${target}:…" to "master_keys" in the stack's secrets.json (.dev/ or
                its --dir), then restart deno task dev
  own server    its environment, then restart the app
A running app reports its keys at every sweep (Deno: at start, then every SWEEP_INTERVAL_SECONDS;
Workers: every minute); once every instance has, run deno task keys rotate again. The report of
an instance that stopped without saying so counts until the time shown.`;
}
