"""The account page: the signed-in user's own account, and leaving it (on this device or all)."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..backends import login_required
from . import layout_context

bp = Blueprint("settings", __name__)


def render_account(errors: dict[str, dict[str, str]] | None = None, values: dict[str, str] | None = None,
                   status: int = 200):
    """The page; `errors` maps a form's name to its field errors, `values` keeps what was typed."""
    return render_template("account.html", active="account", errors=errors or {}, values=values or {},
                           **layout_context()), status


@bp.get("/account")
@login_required
def account():
    return render_account()
