"""Register, log in, log out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared.request_auth import REFRESH_COOKIE

from ..backends import caller, clear_auth_cookies, forward_cookies, with_fresh_session
from ..clients import RequestRejected, ServiceError, Unauthenticated
from ..csrf import rotate_csrf_token
from ..forms import form_errors, safe_next
from ..state import app_state

bp = Blueprint("accounts", __name__)


def _form_page(template: str, values: dict, errors: dict, next_url: str, status: int = 200):
    return render_template(template, values=values, errors=errors, next=next_url), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if request.cookies.get(REFRESH_COOKIE):
            return redirect(next_url)
        return _form_page("login.html", {}, {}, next_url)

    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors = {}
    if not username:
        errors["username"] = "Enter your username."
    if not password:
        errors["password"] = "Enter your password."
    if not errors:
        try:
            _user, grant = app_state().auth.login(caller(), username, password)
        except Unauthenticated as error:
            errors["form"] = error.message
        except RequestRejected as error:
            return _form_page("login.html", {"username": username}, form_errors(error), next_url,
                              429 if error.status == 429 else 422)
        else:
            forward_cookies(grant)
            rotate_csrf_token()
            return redirect(next_url, code=303)
    return _form_page("login.html", {"username": username}, errors, next_url, 422)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "GET":
        return _form_page("register.html", {}, {}, "/chat")

    values = {"username": request.form.get("username", "").strip(), "email": request.form.get("email", "").strip()}
    password = request.form.get("password", "")
    errors = {}
    if not values["username"]:
        errors["username"] = "Choose a username."
    if not values["email"]:
        errors["email"] = "Enter your email address."
    if not password:
        errors["password"] = "Choose a password."
    if not errors:
        try:
            app_state().auth.register(caller(), values["username"], values["email"], password)
            _user, grant = app_state().auth.login(caller(), values["username"], password)
        except RequestRejected as error:
            errors = form_errors(error)
        else:
            forward_cookies(grant)
            rotate_csrf_token()
            flash(f"Welcome, {values['username']}! Find friends to start chatting.", "success")
            return redirect(url_for("friends.index"), code=303)
    return _form_page("register.html", values, errors, "/chat", 422)


@bp.post("/logout")
def logout():
    everywhere = request.form.get("everywhere") == "1"
    try:
        if everywhere:
            # The access token may have expired while the page was open: refresh first, or the
            # other devices would stay logged in while this one only forgets its cookies.
            forward_cookies(with_fresh_session(app_state().auth.logout_all))
            flash("You have been logged out on every device.", "info")
        else:
            forward_cookies(app_state().auth.logout(caller()))
            flash("You have been logged out.", "info")
    except (Unauthenticated, RequestRejected):
        flash("You have been logged out.", "info")
    except ServiceError:
        flash("You are logged out on this browser, but we could not reach the server to end your session everywhere.",
              "error")
    # Whatever auth answered, this browser forgets its tokens.
    rotate_csrf_token()
    return clear_auth_cookies(redirect(url_for("accounts.login"), code=303))
