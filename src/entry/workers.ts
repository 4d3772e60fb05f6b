import { ConfigError, parseEnv } from "../config/env.ts";
import { composeApp } from "../compose.ts";

type Composed = Awaited<ReturnType<typeof composeApp>>;
let composed: Promise<Composed> | undefined;

/** Parsed once per isolate; a configuration error is logged once and answered with a 503. */
function boot(bindings: Record<string, unknown>): Promise<Composed> {
  composed ??= (async () => {
    const strings = Object.fromEntries(
      Object.entries(bindings).filter(([, v]) => typeof v === "string"),
    ) as Record<string, string>;
    return await composeApp(parseEnv(strings));
  })();
  return composed;
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, bindings: Record<string, unknown>, ctx: ExecutionContext) {
    let app: Composed["app"];
    try {
      ({ app } = await boot(bindings));
    } catch (error) {
      composed = undefined;
      const message = error instanceof ConfigError ? error.message : "Start-up failed";
      console.error(JSON.stringify({ level: "error", event: "boot_failed", message }));
      return Response.json(
        {
          error: {
            code: "misconfigured",
            message: "The service is not configured",
            request_id: null,
          },
        },
        { status: 503 },
      );
    }
    return app.fetch(request, { waitUntil: (p) => ctx.waitUntil(p) }, ctx as never);
  },
};
