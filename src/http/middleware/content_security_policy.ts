import type { MiddlewareHandler } from "hono";

/**
 * What an HTML page of ours may load: files from this origin only (the API reference's Swagger UI
 * is served from public/, never from a CDN), no inline or evaluated script, no plugins, and no
 * framing by other sites. Images may be data: URLs (Swagger UI draws its icons that way).
 */
export const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Anything else (JSON, text): should a browser ever render it, nothing loads and nothing runs. */
export const DEFAULT_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/**
 * Gives every response a Content-Security-Policy by what it is, after the handler has run: an
 * HTML page gets PAGE_POLICY, whoever wrote it, so a new page cannot ship without one. A handler
 * that needs a different policy for its page (a nonce, say) sets the header itself. Framing is
 * refused twice, by `frame-ancestors` and by `X-Frame-Options: SAMEORIGIN` for older browsers;
 * a page whose own policy names who may frame it (a plugin page embedded in its upstream's admin)
 * gets no X-Frame-Options, which could only say "nobody" or "this origin" and would contradict it.
 */
export function contentSecurityPolicy(): MiddlewareHandler {
  return async function contentSecurityPolicy(c, next) {
    await next();
    const own = c.res.headers.get("Content-Security-Policy");
    if (own !== null) {
      const ancestors = /(?:^|;)\s*frame-ancestors\s+([^;]*)/i.exec(own)?.[1].trim();
      if (ancestors === undefined || /^'none'$/i.test(ancestors)) {
        c.res.headers.set("X-Frame-Options", "SAMEORIGIN");
      }
      return;
    }
    const html = /^\s*text\/html/i.test(c.res.headers.get("Content-Type") ?? "");
    c.res.headers.set("Content-Security-Policy", html ? PAGE_POLICY : DEFAULT_POLICY);
    c.res.headers.set("X-Frame-Options", "SAMEORIGIN");
  };
}
