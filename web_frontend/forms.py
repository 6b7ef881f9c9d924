"""Where a form goes back to, and how the services' field errors read on a form."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from .clients import RequestRejected

# Field names the services use in their `fields` (each is the form field it belongs to), as people read them.
FORM_FIELDS = {"username": "Username", "email": "Email", "password": "Password",
               "current_password": "Current password", "new_password": "New password"}


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


# Predicates that read badly after their field's label ("Current password is not your current password").
PLAIN_SENTENCES = {"is not your current password": "That is not your current password."}


def _sentence(field: str, message: str) -> str:
    # The services phrase field errors as predicates ("is already taken").
    if message in PLAIN_SENTENCES:
        return PLAIN_SENTENCES[message]
    if message[:1].islower():
        message = f"{FORM_FIELDS[field]} {message}"
    return message if message.endswith(".") else message + "."


def form_errors(error: RequestRejected) -> dict[str, str]:
    """Field-level messages for a refused form; anything unplaced goes under "form"."""
    errors = {name: _sentence(name, message) for name, message in error.fields.items() if name in FORM_FIELDS}
    if not errors and error.status == 409:
        field = "email" if "email" in error.message.lower() else "username"
        errors[field] = error.message
    if not errors:
        errors["form"] = error.message
    return errors
