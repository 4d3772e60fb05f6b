import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { Env } from "./config/env.ts";
import type { ApiKeyStore, ClientStore } from "./ports/clients.ts";
import type { Logger } from "./ports/logger.ts";
import type { RequestLogSink } from "./ports/request_log.ts";
import { errorBody, onError, onNotFound } from "./http/errors.ts";
import { contentSecurityPolicy } from "./http/middleware/content_security_policy.ts";
import { createAuthenticator } from "./http/middleware/auth.ts";
import { limitBody } from "./http/middleware/limit_body.ts";
import { requestContext } from "./http/middleware/request_context.ts";
import { docsRoutes } from "./http/routes/docs.ts";
import { documentApi } from "./http/openapi.ts";
import { healthRoutes } from "./http/routes/health.ts";
import { apiKeyRoutes } from "./http/routes/v1/api_keys.ts";
import { meRoutes } from "./http/routes/v1/me.ts";
import { contactRoutes } from "./http/routes/v1/contacts.ts";
import { mediaRoutes } from "./http/routes/v1/media.ts";
import { messageRoutes } from "./http/routes/v1/messages.ts";
import { whatsappWebhookRoutes } from "./http/routes/webhooks/whatsapp.ts";
import type { ServiceDeps } from "./services/deps.ts";
import type { PluginHost } from "./services/plugins/host.ts";
import { pluginRoutes } from "./http/routes/v1/plugins.ts";
import { pluginWebhookRoutes } from "./http/routes/plugins/webhooks.ts";
import { pluginPageRoutes } from "./http/routes/plugins/pages.ts";
import type { ClientWebhooks } from "./services/client_webhooks.ts";
import type { TemplateService } from "./services/templates.ts";
import { webhookEndpointRoutes } from "./http/routes/v1/webhook_endpoints.ts";
import { accountEventRoutes } from "./http/routes/v1/account_events.ts";
import { templateRoutes } from "./http/routes/v1/templates.ts";
import type { AppEnv } from "./http/types.ts";
import type { ClientAddress } from "./http/client_address.ts";
import type { PrivacyService } from "./services/privacy_requests.ts";
import { privacyPageRoutes } from "./http/routes/privacy/pages.tsx";
import { metaDataDeletionRoutes } from "./http/routes/privacy/meta_data_deletion.ts";
import { privacyRequestRoutes } from "./http/routes/v1/privacy_requests.ts";

export interface AppDeps {
  env: Env;
  logger: Logger;
  requestLog: RequestLogSink;
  pepper: CryptoKey;
  clients: ClientStore;
  apiKeys: ApiKeyStore;
  services: ServiceDeps;
  webhooks: ClientWebhooks;
  plugins: PluginHost;
  templates: TemplateService;
  privacy: PrivacyService;
  /** how the runtime tells who sent a request (the throttle's and the request log's address) */
  clientAddress: ClientAddress;
  /** seconds a verified API key stays cached per isolate (0 in tests that revoke and retry) */
  authCacheSeconds?: number;
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/**
 * Validation issues as `{path, message}`. For a union (send body vs mark-as-read), zod reports one
 * opaque "Invalid input"; the branch with the fewest issues is the one the caller meant, so its
 * issues are reported instead.
 */
function flattenIssues(
  issues: readonly Issue[],
  prefix: PropertyKey[] = [],
): Array<{ path: string; message: string }> {
  return issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    if (i.code === "invalid_union" && i.errors?.length) {
      const best = i.errors.reduce((a, b) => (b.length < a.length ? b : a));
      if (best.length) return flattenIssues(best, path);
    }
    return [{ path: path.map(String).join("."), message: i.message }];
  });
}

/** Builds the one Hono app both runtimes serve; everything runtime-specific comes in through deps. */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const details = flattenIssues(result.error.issues);
        return c.json(
          errorBody(c, "invalid_request", "The request does not match the schema", details),
          400,
        );
      }
    },
  });
  const auth = createAuthenticator({
    apiKeys: deps.apiKeys,
    clients: deps.clients,
    pepper: deps.pepper,
    jwtSecret: deps.env.SUPABASE_JWT_SECRET,
    jwksUrl: deps.env.SUPABASE_JWKS_URL,
    userTokenMaxLifetimeSeconds: deps.env.USER_JWT_MAX_AGE_SECONDS,
    cacheSeconds: deps.authCacheSeconds ?? 10,
    failuresPerMinute: deps.env.AUTH_FAILURES_PER_MINUTE,
  });

  app.onError(onError);
  app.notFound(onNotFound);
  app.use(
    requestContext({
      logger: deps.logger,
      sink: deps.requestLog,
      clientAddress: deps.clientAddress,
    }),
  );
  // browser security headers everywhere but on provider webhooks, which only providers'
  // servers call: there they protect nothing and cost CPU on every delivery
  // (the middleware benchmark of docs/benchmarks.md, bench/middleware_cpu.ts); one middleware,
  // so that a webhook passes one layer, not two. X-Frame-Options comes with the
  // Content-Security-Policy (contentSecurityPolicy), which knows whether a page says who may frame it
  const secure = secureHeaders({ crossOriginResourcePolicy: "same-origin", xFrameOptions: false });
  const csp = contentSecurityPolicy();
  app.use(
    function browserHeaders(c, next) {
      return c.req.path.startsWith("/webhooks/")
        ? next()
        : secure(c, async () => void await csp(c, next));
    } satisfies MiddlewareHandler<AppEnv>,
  );
  app.use("/v1/*", limitBody(deps.env.MAX_BODY_BYTES));
  app.use("/plugins/*", limitBody(deps.env.MAX_BODY_BYTES));

  app.route("/", healthRoutes(deps.clients));
  app.route("/", whatsappWebhookRoutes(deps.services));
  app.route("/", pluginWebhookRoutes(deps.plugins, deps.env.WEBHOOK_MAX_BODY_BYTES));
  app.route("/", pluginPageRoutes(deps.plugins));
  // the public privacy pages and Meta's data deletion callback: no credential, their own limits
  app.route(
    "/",
    privacyPageRoutes(deps.privacy, {
      contactEmail: deps.env.PRIVACY_CONTACT_EMAIL,
      now: deps.services.now,
    }),
  );
  app.route(
    "/",
    metaDataDeletionRoutes(deps.privacy, {
      appSecret: deps.env.META_APP_SECRET,
      publicBaseUrl: deps.env.PUBLIC_BASE_URL,
    }),
  );

  app.use("/v1/*", auth.authenticate);
  app.route("/v1", meRoutes(deps.clients));
  app.route(
    "/v1",
    apiKeyRoutes({
      apiKeys: deps.apiKeys,
      audit: deps.services.audit,
      onRevoke: auth.invalidate,
      now: deps.services.now,
    }),
  );
  app.route("/v1", messageRoutes(deps.services));
  app.route("/v1", contactRoutes(deps.services));
  app.route("/v1", mediaRoutes(deps.services));
  app.route("/v1", webhookEndpointRoutes(deps.services, deps.webhooks));
  app.route("/v1", accountEventRoutes(deps.services));
  app.route("/v1", pluginRoutes(deps.plugins));
  app.route("/v1", templateRoutes({ env: deps.env, templates: deps.templates }));
  app.route("/v1", privacyRequestRoutes(deps.privacy));

  documentApi(app, { publicBaseUrl: deps.env.PUBLIC_BASE_URL });
  app.route("/", docsRoutes("glooft-edge API reference"));
  return app;
}

export type App = ReturnType<typeof createApp>;
