// Starts Swagger UI for the document named by the page (data-document-url).
// Kept out of the HTML so the page can forbid inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-document-url"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    withCredentials: true,
    tryItOutEnabled: false
  });
})();
