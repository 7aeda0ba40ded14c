// Starts Swagger UI on Parley's own OpenAPI document (a file, not inline, so the page's CSP can
// forbid inline scripts).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
  });
});
