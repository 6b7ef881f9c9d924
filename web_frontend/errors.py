"""The one place where failures become pages, redirects and flash messages."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .backends import clear_auth_cookies
from .clients import RequestRejected, ServiceUnavailable, Unauthenticated

log = logging.getLogger(__name__)

# Field names the services use in their `fields`, and the form field each belongs to.
FORM_FIELDS = ("username", "email", "password")


def safe_next(target: str | None, default: str = "/chat") -> str:
    """A same-site path to go to after a form, never another site (`//evil`, `https://evil`)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def back() -> str:
    """Where a form should return to: its `next` field, else the page it was posted from."""
    if request.form.get("next"):
        return safe_next(request.form["next"])
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc and referrer.netloc == request.host:
        return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
    return "/chat"


def _sentence(field: str, message: str) -> str:
    # The services phrase field errors as predicates ("is already taken").
    if message[:1].islower():
        message = f"{field.capitalize()} {message}"
    return message if message.endswith(".") else message + "."


def form_errors(error: RequestRejected) -> dict[str, str]:
    """Field-level messages for a refused register/login form; anything unplaced goes under "form"."""
    errors = {name: _sentence(name, message) for name, message in error.fields.items() if name in FORM_FIELDS}
    if not errors and error.status == 409:
        field = "email" if "email" in error.message.lower() else "username"
        errors[field] = error.message
    if not errors:
        errors["form"] = error.message
    return errors


def error_page(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


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
