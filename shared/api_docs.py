"""Serve a service's OpenAPI document and a Swagger UI page for it.

    register_api_docs(app, "/auth")   # serves <app package>/openapi.json

answers

* `GET <prefix>/openapi.json` -- the hand-written document, the single source of
  truth (revalidated with an ETag, so a deploy shows at once);
* `GET <prefix>/docs` -- Swagger UI for it;
* `GET <prefix>/docs/assets/<version>/<file>` -- the Swagger UI files, served by
  the service itself from the copy vendored under `shared/static/` (no CDN).
  `<version>` is a hash of those files, so they can be cached for a year.

The page runs under a strict Content-Security-Policy: no inline script (the
Swagger UI start-up lives in `static/api-docs.js`), nothing from other origins.

Updating Swagger UI: `npm pack swagger-ui-dist@<version>`, copy its
swagger-ui-bundle.js (+ .LICENSE.txt), swagger-ui.css, favicon-32x32.png, LICENSE
and NOTICE into static/swagger-ui/, and set SWAGGER_UI_VERSION.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

from flask import Blueprint, Flask, Response, request, send_from_directory

from .errors import NotFound

STATIC_DIR = Path(__file__).with_name("static")
SWAGGER_UI_VERSION = "5.35.0"  # npm swagger-ui-dist, vendored in static/swagger-ui/
ASSETS = ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "swagger-ui/favicon-32x32.png",
          "api-docs.js", "api-docs.css")

# Swagger UI sets element styles from script (allowed under style-src 'self') and
# uses data: URIs for its icons; it fetches the document and "Try it out"
# requests from this origin only.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
DOCUMENT_CACHE = "no-cache"  # always revalidate (ETag), the document changes with each deploy
ASSET_CACHE_SECONDS = 365 * 24 * 3600  # the URL changes whenever a file does


def _assets_version() -> str:
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update(name.encode())
        digest.update((STATIC_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


ASSETS_VERSION = _assets_version()

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API</title>
<link rel="icon" type="image/png" href="{assets}/swagger-ui/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui/swagger-ui.css">
<link rel="stylesheet" href="{assets}/api-docs.css">
</head>
<body>
<noscript>This page needs JavaScript. The document itself is at <a href="{document}">{document}</a>.</noscript>
<div id="swagger-ui" data-document-url="{document}"></div>
<script src="{assets}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{assets}/api-docs.js"></script>
</body>
</html>
"""


def api_docs_blueprint(document_path: Path | str, prefix: str) -> Blueprint:
    """A blueprint serving the OpenAPI document at `document_path` under `prefix`.

    The document is read and parsed once, here, so a broken file stops the
    service at start-up instead of at the first request.
    """
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    body = Path(document_path).read_bytes()
    document = json.loads(body)
    etag = hashlib.sha256(body).hexdigest()[:32]
    page = _PAGE.format(
        title=html.escape(document.get("info", {}).get("title", "API")),
        assets=f"{prefix}/docs/assets/{ASSETS_VERSION}",
        document=f"{prefix}/openapi.json",
    )
    blueprint = Blueprint("api_docs", __name__)

    @blueprint.get(f"{prefix}/openapi.json")
    def document_json() -> Response:
        response = Response(body, mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = DOCUMENT_CACHE
        response.headers["Access-Control-Allow-Origin"] = "*"  # public, credential-free: tools may fetch it
        return response.make_conditional(request)

    @blueprint.get(f"{prefix}/docs")
    def docs_page() -> Response:
        response = Response(page, mimetype="text/html")
        response.headers["Content-Security-Policy"] = DOCS_CSP
        response.headers["Cache-Control"] = DOCUMENT_CACHE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @blueprint.get(f"{prefix}/docs/assets/<version>/<path:filename>")
    def docs_asset(version: str, filename: str) -> Response:
        if version != ASSETS_VERSION or filename not in ASSETS:
            raise NotFound("No such documentation asset.")
        response = send_from_directory(STATIC_DIR, filename, max_age=ASSET_CACHE_SECONDS)
        response.headers["Cache-Control"] = f"public, max-age={ASSET_CACHE_SECONDS}, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return blueprint


def register_api_docs(app: Flask, prefix: str) -> None:
    """Serve the `openapi.json` that sits next to the app's package under `prefix`."""
    app.register_blueprint(api_docs_blueprint(Path(app.root_path) / "openapi.json", prefix))
