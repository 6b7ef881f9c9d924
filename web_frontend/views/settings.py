"""The account page: the signed-in user's own account, and leaving it (on this device or all)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from shared.timestamps import format_timestamp, utcnow

from ..backends import caller, clear_auth_cookies, current_user, login_required
from ..clients import RequestRejected
from ..csrf import rotate_csrf_token
from ..forms import form_errors
from ..state import app_state
from . import layout_context

bp = Blueprint("settings", __name__)


def render_account(errors: dict[str, dict[str, str]] | None = None, values: dict[str, str] | None = None,
                   status: int = 200):
    """The page; `errors` maps a form's name to its field errors, `values` keeps what was typed
    (never a password)."""
    return render_template("account.html", active="account", errors=errors or {}, values=values or {},
                           **layout_context()), status


def _refused(form: str, errors: dict[str, str], values: dict[str, str] | None = None, status: int = 422):
    return render_account({form: errors}, values, status)


def _required(**fields: tuple[str, str]) -> dict[str, str]:
    """An error for each empty field: name -> (value, what to ask for)."""
    return {name: message for name, (value, message) in fields.items() if not value}


@bp.get("/account")
@login_required
def account():
    return render_account()


@bp.post("/account/password")
@login_required
def change_password():
    current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
    errors = _required(current_password=(current, "Enter your current password."),
                       new_password=(new, "Choose a new password."))
    if errors:
        return _refused("password", errors)
    try:
        app_state().auth.change_password(caller(), current, new)
    except RequestRejected as error:
        return _refused("password", form_errors(error), status=error.status)
    flash("Your password has been changed. Your other devices have been logged out.", "success")
    return redirect(url_for("settings.account"), code=303)


@bp.post("/account/email")
@login_required
def change_email():
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    errors = _required(email=(email, "Enter your new email address."),
                       password=(password, "Enter your current password."))
    if errors:
        return _refused("email", errors, {"email": email})
    try:
        app_state().auth.change_email(caller(), email, password)
    except RequestRejected as error:
        return _refused("email", form_errors(error), {"email": email}, error.status)
    flash("Your email address has been changed.", "success")
    return redirect(url_for("settings.account"), code=303)


@bp.get("/account/data")
@login_required
def download_data():
    """The profile from auth and everything chat holds of the user, as one JSON file."""
    user = current_user()
    data = {"exported_at": format_timestamp(utcnow()), "profile": user, **app_state().chat.my_data(caller())}
    return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="parley-{user["username"]}.json"'})


def _deletion_page(errors: dict[str, str] | None = None, status: int = 200):
    return render_template("account_delete.html", active="account", errors=errors or {},
                           **layout_context()), status


@bp.get("/account/delete")
@login_required
def confirm_deletion():
    """The confirmation step: what deleting means, and the password."""
    return _deletion_page()


@bp.post("/account/delete")
@login_required
def delete_account():
    password = request.form.get("password", "")
    if not password:
        return _deletion_page({"password": "Enter your password to delete your account."}, 422)
    try:
        app_state().auth.delete_account(caller(), password)
    except RequestRejected as error:
        return _deletion_page(form_errors(error), error.status)
    flash("Your account has been deleted. Goodbye!", "info")
    rotate_csrf_token()
    return clear_auth_cookies(redirect(url_for("accounts.login"), code=303))
