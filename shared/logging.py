"""Structured (JSON lines) logging with a request id.

`configure_logging(service)` sends every record to stderr as one JSON object.
`install_request_id(app)` gives each request an id (nginx's `X-Request-ID`
when present, a new one otherwise), echoes it in the response and adds it to
every record logged while the request runs, plus one access line per request.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
from typing import Any

from flask import Flask, g, has_request_context, request

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install_request_id(app: Flask) -> None:
    access = logging.getLogger(f"{app.import_name}.access")

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else secrets.token_hex(16)
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
            if request.path != "/healthz":
                access.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 2),
                    },
                )
        return response
