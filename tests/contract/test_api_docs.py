"""The docs blueprint: the document as written, and a Swagger UI page that loads nothing from elsewhere."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from shared.api_docs import ASSETS, ASSETS_VERSION, STATIC_DIR, SWAGGER_UI_VERSION, api_docs_blueprint
from shared.errors import register_error_handlers

from .openapi_documents import document_path


@pytest.fixture
def client():
    app = Flask(__name__)
    register_error_handlers(app)
    app.register_blueprint(api_docs_blueprint(document_path("auth_service"), "/auth"))
    return app.test_client()


def test_document_is_served_exactly_as_written_and_revalidates(client):
    response = client.get("/auth/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.data == document_path("auth_service").read_bytes()
    assert response.headers["Cache-Control"] == "no-cache"
    again = client.get("/auth/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_docs_page_runs_no_inline_script_and_loads_only_its_own_assets(client):
    response = client.get("/auth/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(url.startswith("/auth/") for url in urls), urls
    assert 'data-document-url="/auth/openapi.json"' in page
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        if "/docs/assets/" in url:
            assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_swagger_ui_start_up_is_a_file_naming_the_document_from_the_page():
    script = (STATIC_DIR / "api-docs.js").read_text()
    assert "data-document-url" in script and "validatorUrl: null" in script
    assert "http" not in script  # nothing from another origin


def test_unknown_or_outdated_assets_answer_404_with_the_error_envelope(client):
    outdated = client.get("/auth/docs/assets/0123456789ab/swagger-ui/swagger-ui-bundle.js")
    assert outdated.status_code == 404
    assert outdated.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/auth/docs/assets/{ASSETS_VERSION}/../api_docs.py").status_code == 404
    assert client.get(f"/auth/docs/assets/{ASSETS_VERSION}/swagger-ui/LICENSE").status_code == 404


def test_the_vendored_swagger_ui_is_the_pinned_release_with_its_license():
    bundle = (STATIC_DIR / "swagger-ui" / "swagger-ui-bundle.js").read_text()
    assert f'PACKAGE_VERSION:"{SWAGGER_UI_VERSION}"' in bundle
    assert "Apache License" in (STATIC_DIR / "swagger-ui" / "LICENSE").read_text()
    assert all((STATIC_DIR / name).is_file() for name in ASSETS)
