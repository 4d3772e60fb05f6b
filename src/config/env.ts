import * as z from "zod";
import { parseCidrList } from "../core/net/ip.ts";

/** How master keys are written: `v1:<base64 of 32 bytes>,v2:<...>`; the active one is named apart. */
const MASTER_KEYS_PATTERN =
  /^[a-z0-9_-]{1,16}:[A-Za-z0-9+/=_-]{43,44}(,[a-z0-9_-]{1,16}:[A-Za-z0-9+/=_-]{43,44})*$/;

const secret = (min: number) =>
  z.string({ error: "is required" }).min(min, { error: `must be at least ${min} characters` });

const intFromString = (def: number, min: number, max: number) =>
  z.coerce.number({ error: "must be a number" }).int().min(min).max(max).default(def);

export const EnvSchema = z.object({
  ENVIRONMENT: z.enum(["development", "test", "production"]).default("production"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  PUBLIC_BASE_URL: z.url({ error: "must be an absolute URL" }).optional(),

  SUPABASE_URL: z.url({ error: "must be an absolute URL such as https://xyz.supabase.co" }),
  SUPABASE_ANON_KEY: secret(20),
  SUPABASE_SERVICE_ROLE_KEY: secret(20),
  // Signs the short-lived per-client JWTs the edge hands to PostgREST (HS256), and verifies
  // Supabase Auth user tokens when SUPABASE_JWKS_URL is not set.
  SUPABASE_JWT_SECRET: secret(32),
  SUPABASE_JWKS_URL: z.url().optional(),
  // user access tokens living longer than this (exp − iat) are refused; Supabase Auth issues
  // 1-hour tokens by default and allows at most one week
  USER_JWT_MAX_AGE_SECONDS: intFromString(3600, 60, 604_800),

  MASTER_KEYS: z.string({ error: "is required" }).regex(MASTER_KEYS_PATTERN, {
    error: "must look like v1:<base64 of 32 random bytes>[,v2:...]",
  }),
  MASTER_KEY_ACTIVE: z.string().regex(/^[a-z0-9_-]{1,16}$/).optional(),
  API_KEY_PEPPER: secret(32),

  META_APP_SECRET: secret(16),
  META_VERIFY_TOKEN: secret(8),
  GRAPH_API_BASE_URL: z.url().default("https://graph.facebook.com"),
  GRAPH_API_VERSION: z.string().regex(/^v\d+\.\d+$/, { error: "must look like v24.0" }).default(
    "v24.0",
  ),
  GRAPH_API_TIMEOUT_MS: intFromString(10_000, 100, 60_000),

  // Meta's pair rate: about one message per 6 s to the same recipient
  RECIPIENT_MIN_INTERVAL_MS: intFromString(6000, 0, 60_000),
  // after a send whose response was lost, how long to wait for a status webhook naming our id
  // before sending again (Meta's status webhooks normally arrive within seconds)
  SEND_AMBIGUOUS_WAIT_MS: intFromString(30_000, 100, 600_000),
  // retryable send failures: attempts before the message is dead-lettered, and the backoff base
  SEND_MAX_ATTEMPTS: intFromString(8, 1, 50),
  SEND_BACKOFF_BASE_MS: intFromString(1000, 10, 60_000),
  // how often the sweeper re-rings recorded work that is not finished
  SWEEP_INTERVAL_SECONDS: intFromString(30, 1, 3600),
  // message templates: a full sync of each account at least this often (Meta's template webhooks
  // keep the store current in between), and at most one sync per account this often, whoever
  // asks (a send the store would refuse, a client, the schedule)
  TEMPLATE_SYNC_INTERVAL_SECONDS: intFromString(21_600, 60, 604_800),
  TEMPLATE_SYNC_MIN_INTERVAL_SECONDS: intFromString(60, 0, 3600),

  // data-subject requests: the client whose WhatsApp number sends verification codes (the
  // provider's own number, used for nothing else), the authentication template it sends, and how
  // long an export link works
  PRIVACY_SENDER_CLIENT_ID: z.uuid({ error: "must be a client id (a UUID)" }).optional(),
  PRIVACY_SENDER_PHONE_NUMBER_ID: z.string().regex(/^[0-9]{1,32}$/, {
    error: "must be a Meta phone number id (digits)",
  }).optional(),
  PRIVACY_CODE_TEMPLATE: z.string().regex(/^[a-z0-9_]{1,512}$/, {
    error: "must be a template name (lowercase letters, digits and underscores)",
  }).default("privacy_verification_code"),
  PRIVACY_CODE_TEMPLATE_LANGUAGE: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, {
    error: "must be a template language code such as en_US",
  }).default("en_US"),
  PRIVACY_EXPORT_TTL_HOURS: intFromString(168, 1, 720),
  PRIVACY_CONTACT_EMAIL: z.email({ error: "must be an email address" }).optional(),

  MAX_BODY_BYTES: intFromString(1_048_576, 1024, 10_485_760),
  WEBHOOK_MAX_BODY_BYTES: intFromString(3_145_728, 1024, 10_485_760),
  AUTH_FAILURES_PER_MINUTE: intFromString(10, 1, 10_000),
  // Deno/self-hosted: the reverse proxies whose X-Forwarded-For (or CF-Connecting-IP) names the
  // client; from anyone else those headers are ignored. Workers reads Cloudflare's header instead.
  TRUSTED_PROXIES: z.string().max(4096).default("").refine(
    (list) => parseCidrList(list).invalid.length === 0,
    { error: "must be comma-separated IP addresses or CIDR ranges such as 10.0.0.0/8,::1" },
  ),

  // The Shopify app of the Shopify plugin (plugins/shopify/README.md): its client id and client
  // secret from the Partner Dashboard; both or neither (without them the plugin refuses its
  // webhooks and pages). The previous secret is accepted too while a rotation settles.
  SHOPIFY_API_KEY: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, {
    error: "must be the app's client id",
  }).optional(),
  SHOPIFY_API_SECRET: secret(16).optional(),
  SHOPIFY_API_SECRET_PREVIOUS: secret(16).optional(),
  // where the Admin API and token exchange are reached instead of https://<shop> (an emulator)
  SHOPIFY_API_BASE_URL: z.url({ error: "must be an absolute URL" }).optional(),
  SHOPIFY_API_VERSION: z.string().regex(/^(20[0-9]{2}-(01|04|07|10)|unstable)$/, {
    error: "must be a Shopify API version such as 2026-07",
  }).optional(),
});

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses the environment once at the composition root. Every bad key is named in one message so
 * an operator can fix them all in one go; values are never echoed, since most are secrets.
 */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ""),
  );
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key = issue.path.join(".") || "(root)";
      const message = issue.code === "invalid_type" && cleaned[key] === undefined
        ? "is required"
        : issue.message;
      return `${key} ${message}`;
    });
    throw new ConfigError(problems);
  }
  const env = result.data;
  if (!env.SHOPIFY_API_KEY !== !env.SHOPIFY_API_SECRET) {
    throw new ConfigError([
      `${env.SHOPIFY_API_KEY ? "SHOPIFY_API_SECRET" : "SHOPIFY_API_KEY"} is required with ${
        env.SHOPIFY_API_KEY ? "SHOPIFY_API_KEY" : "SHOPIFY_API_SECRET"
      }`,
    ]);
  }
  if (
    env.MASTER_KEY_ACTIVE &&
    !env.MASTER_KEYS.split(",").some((k) => k.startsWith(`${env.MASTER_KEY_ACTIVE}:`))
  ) {
    throw new ConfigError(["MASTER_KEY_ACTIVE names a version that is not in MASTER_KEYS"]);
  }
  return env;
}
