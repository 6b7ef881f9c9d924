"""Where each service's OpenAPI document lives and how to build the service for tests."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from flask import Flask

REPO_ROOT = Path(__file__).resolve().parents[2]
# service package -> the prefix its document and docs page are served under
SERVICES = {"auth_service": "/auth", "chat_service": "/api"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# Served by the docs blueprint for the page's own files, and auth's notices to chat without Redis
# (service to service, never through the gateway: docs/architecture.md): not part of the API.
UNDOCUMENTED_ENDPOINTS = {"static", "api_docs.docs_asset", "internal.sessions_ended", "internal.accounts_deleted"}


def document_path(service: str) -> Path:
    return REPO_ROOT / service / "openapi.json"


def load_document(service: str) -> dict[str, Any]:
    return json.loads(document_path(service).read_text())


def create_test_app(service: str) -> Flask:
    """The service's app with a test configuration (in-memory SQLite, no Redis)."""
    package = importlib.import_module(service)
    config = importlib.import_module(f"{service}.config").Config.from_env({"DATABASE_URL": "sqlite://"})
    return package.create_app(config)


def flask_path_to_openapi(rule: str) -> str:
    """/api/conversations/<int:conversation_id> -> /api/conversations/{conversation_id}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        for method in rule.methods or ():
            if method.lower() in HTTP_METHODS:
                operations.add((method.lower(), flask_path_to_openapi(rule.rule)))
    return operations


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}
