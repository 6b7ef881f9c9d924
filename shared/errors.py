"""The JSON error envelope of the public contract, and the handlers that make
every failure answer with it.

    {"error": {"code": "<snake_case>", "message": "<human text>"}}

Services raise `ApiError` subclasses from anywhere below a request; the
handlers registered by `register_error_handlers` turn them, Werkzeug's HTTP
errors and (as a last resort) unexpected exceptions into that envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "Bad request."

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields or {}
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "The request is malformed."


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "Authentication required."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "You are not allowed to do that."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class InternalError(ApiError):
    """What a client sees of a bug: no details, the same envelope."""

    status, code, message = 500, "internal_error", "Something went wrong."


class MethodNotAllowed(ApiError):
    status, code, message = 405, "method_not_allowed", "Method not allowed."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "Conflict."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class ValidationError(ApiError):
    status, code, message = 422, "validation_error", "The request is not valid."


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class Unavailable(ApiError):
    status, code, message = 503, "unavailable", "A service this depends on is unavailable."


_HTTP_EXCEPTIONS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: BadRequest,
    503: Unavailable,
}


def error_response(error: ApiError):
    response = jsonify(error.to_dict())
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    install_body_discard(app)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        api_cls = _HTTP_EXCEPTIONS.get(error.code or 500)
        if api_cls is None:
            api_error = ApiError(error.description or "Request failed.")
            api_error.status = error.code or 500
            api_error.code = (error.name or "error").lower().replace(" ", "_")
        else:
            api_error = api_cls()
        response = error_response(api_error)
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(InternalError())


def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON body as a dict, or a 400 `bad_request`.

    A body is required to be `application/json` and a JSON object; an absent body
    is allowed (as `{}`) when `required` is False.
    """
    if not request.get_data(cache=True):
        if required:
            raise BadRequest("A JSON body is required.")
        return {}
    if not request.is_json:
        raise BadRequest("The body must be JSON (Content-Type: application/json).")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # The json parser recurses once per level; about 1,000 nested arrays exhaust the stack.
        raise BadRequest("The JSON body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


# Most of an unread body that is still read, so the answer is not lost (see install_body_discard).
DISCARD_LIMIT = 1024 * 1024


def install_body_discard(app: Flask) -> None:
    """After every response, read whatever body the request handler left unread.

    A request can be answered without its body being read (413, 401, 404, ...).
    gunicorn then closes the connection with unread data, which resets it under
    the client (or proxy) still sending: the client gets a reset instead of the
    answer, and nginx answers 502/503 and counts the instance as failed.
    """

    @app.after_request
    def _discard(response):
        discard_body(request)
        return response


def discard_body(request: Request, limit: int = DISCARD_LIMIT) -> None:
    """Read and drop the request's unread body, at most `limit` bytes (larger bodies
    are not worth reading; those connections are reset)."""
    try:
        stream = request.stream  # the one the handler read from, if it did: it knows what is left
    except RequestEntityTooLarge:
        # Refused on its Content-Length before a byte was read.
        stream = get_input_stream(request.environ, max_content_length=None)
    remaining = limit
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 64 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)
    except (OSError, ValueError, HTTPException):
        return  # the client went away, sent a broken chunked body or too much of one
