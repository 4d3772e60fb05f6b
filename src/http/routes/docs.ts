import { Hono } from "hono";
import { html } from "hono/html";
import type { AppEnv } from "../types.ts";

/**
 * The API reference page: Swagger UI (the swagger-ui-dist package) over `/openapi.json`. Its
 * files are served by this deployment from public/docs/assets/ (links into node_modules; on
 * Workers as static assets, on Deno by src/adapters/deno/static_files.ts), so the page works
 * without internet access and under a policy that allows only this origin. It has no inline
 * script: docs.js starts the UI.
 */
export function docsRoutes(title: string) {
  const page = html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title}</title>
        <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
        <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
      </head>
      <body>
        <div id="swagger-ui"></div>
        <script src="/docs/assets/swagger-ui-bundle.js"></script>
        <script src="/docs/assets/docs.js"></script>
      </body>
    </html>
  `;
  return new Hono<AppEnv>().get("/docs", (c) => c.html(page));
}
