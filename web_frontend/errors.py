"""The one place where failures become pages, redirects and flash messages."""

from __future__ import annotations

import logging

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE

from .backends import clear_auth_cookies
from .clients import RequestRejected, ServiceUnavailable, Unauthenticated
from .forms import back, safe_next

log = logging.getLogger(__name__)


def error_page(status: int, title: str, message: str):
    # No backend call here (it may be what failed): a session cookie is enough not to offer "Log in".
    signed_in = ACCESS_COOKIE in request.cookies or REFRESH_COOKIE in request.cookies
    return render_template("error.html", status=status, title=title, message=message, signed_in=signed_in), status


def register(app: Flask) -> None:
    @app.errorhandler(Unauthenticated)
    def _unauthenticated(error: Unauthenticated):
        flash("Please log in to continue.", "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        next_url = safe_next(target, default="")
        return clear_auth_cookies(redirect(url_for("accounts.login", next=next_url) if next_url
                                           else url_for("accounts.login")))

    @app.errorhandler(ServiceUnavailable)
    def _unavailable(error: ServiceUnavailable):
        return error_page(503, "We'll be right back",
                          "Part of the chat is not answering right now. Please try again in a moment.")

    @app.errorhandler(RequestRejected)
    def _rejected(error: RequestRejected):
        if request.method != "GET":
            flash(error.message, "error")
            return redirect(back(), code=303)
        if error.status in (403, 404):
            return error_page(404, "Not found", "This page does not exist, or you are not a member of it.")
        if error.status == 429:
            return error_page(429, "Slow down", error.message)
        return error_page(400, "Something is not right", error.message)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        flash("That form had expired. Please try again.", "error")
        # Login and register forms go back to themselves; action-only forms to the page they came from.
        same_page = request.url_rule is not None and "GET" in (request.url_rule.methods or ())
        return redirect(request.path if same_page else back(), code=303)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code == 404:
            return error_page(404, "Not found", "There is nothing at this address.")
        if error.code and error.code < 500:
            return error_page(error.code, error.name, error.description or "")
        return error_page(error.code or 500, "Something went wrong", "Please try again in a moment.")

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        log.error("unhandled error", exc_info=getattr(error, "original_exception", None))
        return error_page(500, "Something went wrong", "Please try again in a moment.")
