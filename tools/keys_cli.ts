import { parseArgs } from "node:util";
import { dataKeys } from "../src/adapters/supabase/data_keys.ts";
import { audit } from "../src/adapters/supabase/audit.ts";
import { generateMasterKey, parseKeyring } from "../src/core/crypto/envelope.ts";
import { operatorEnv, requireKeys, serviceClientFrom } from "./cli_env.ts";
import { rotationRefusal } from "./key_rotation_check.ts";

const HELP = `deno task keys <command>

Master key management for envelope encryption (AES-256-GCM).

Commands:
  generate VERSION   print a new master key entry (e.g. v2:<base64>) to append to MASTER_KEYS
  rotate             re-wrap every client data key under the active master key
                     (MASTER_KEY_ACTIVE, or the last entry of MASTER_KEYS)

Rotation without downtime (README.md, "Rotating the master key"):
  1. deno task keys generate v2   → append the output to MASTER_KEYS everywhere the app runs
                                    (local stack: "master_keys" in .dev/secrets.json)
  2. deploy or restart: old and new versions both decrypt; new data keys use v2, and each
     instance reports at its next sweep that it holds v2
  3. deno task keys rotate        → re-wraps every data key under v2 (fields are not
                                    re-encrypted); refused while a running instance lacks v2
  4. once it reports nothing left on v1 and the webhook inbox holds no payload from before step 2
     (a delivery set aside after failing keeps its payload 30 days), remove v1 from MASTER_KEYS

Options:
  --dir PATH   rotate on the local stack running from PATH (default: .dev, when SUPABASE_URL
               and SUPABASE_SERVICE_ROLE_KEY are not exported); which one is used is printed
  -h, --help   show this help`;

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      dir: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  console.error(`keys: ${(error as Error).message}. See \`deno task keys --help\``);
  Deno.exit(2);
}
const { values, positionals } = parsed;
const [command, version] = positionals;
if (values.help || !command) {
  console.log(HELP);
  Deno.exit(values.help ? 0 : 2);
}

if (command === "generate") {
  if (!version || !/^[a-z0-9_-]{1,16}$/.test(version)) {
    console.error("keys: generate needs a version name such as v2");
    Deno.exit(2);
  }
  console.log(generateMasterKey(version));
} else if (command === "rotate") {
  const env = await operatorEnv("keys", values.dir);
  requireKeys(env, ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "MASTER_KEYS"]);
  const keyring = await parseKeyring(env.MASTER_KEYS, env.MASTER_KEY_ACTIVE || undefined);
  const service = serviceClientFrom(env);
  const refusal = await rotationRefusal(keyring, service);
  if (refusal) {
    console.error(`keys: not rotating: ${refusal}`);
    Deno.exit(1);
  }
  const result = await dataKeys({ keyring, service }).rewrapAll();
  await audit(service, {
    clientId: null,
    actor: `operator:${Deno.env.get("USER") ?? "cli"}`,
    action: "master_key.rotated",
    details: {
      active: keyring.active,
      rewrapped: result.rewrapped,
      total: result.total,
      failed: result.failed,
    },
  });
  console.log(
    `Re-wrapped ${result.rewrapped} of ${result.total} data keys under master key ${keyring.active}; ` +
      `${result.total - result.rewrapped - result.failed.length} were already on it.`,
  );
  if (result.failed.length) {
    console.error(
      `${result.failed.length} data key(s) could not be unwrapped with the configured master keys ` +
        `(clients ${
          result.failed.join(", ")
        }). Keep their master key in MASTER_KEYS and check them.`,
    );
    Deno.exit(1);
  }
} else {
  console.error(`keys: unknown command "${command}". See \`deno task keys --help\``);
  Deno.exit(2);
}
