// Starts Swagger UI (swagger-ui-bundle.js, loaded just before) on this deployment's OpenAPI
// document. A file rather than an inline script, so that the page's Content-Security-Policy can
// refuse every inline script; validatorUrl null keeps the UI from asking swagger.io for a badge.
globalThis.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
