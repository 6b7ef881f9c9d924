"""The chat pages: the conversation list, and one open conversation beside it."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from shared.request_auth import REFRESH_COOKIE

from ..backends import caller, login_required
from ..state import app_state
from . import layout_context

bp = Blueprint("chat", __name__)


@bp.get("/")
def home():
    if request.cookies.get(REFRESH_COOKIE):
        return redirect(url_for("chat.index"))
    return redirect(url_for("accounts.login"))


def _render(conversation_id: int | None):
    chat = app_state().chat
    context = layout_context()
    page_data = {
        "me": context["user"],
        "conversations": chat.conversations(caller()),
        "friends": chat.friends(caller()),
        "open": None,
    }
    if conversation_id is not None:
        conversation = chat.conversation(caller(), conversation_id)
        history = chat.messages(caller(), conversation_id)
        page_data["open"] = {
            "conversation": conversation,
            "messages": history.get("messages", []),
            "has_more": bool(history.get("has_more")),
        }
    return render_template("chat.html", page_data=page_data, open_id=conversation_id, **context)


@bp.get("/chat")
@login_required
def index():
    return _render(None)


@bp.get("/chat/<int:conversation_id>")
@login_required
def conversation(conversation_id: int):
    return _render(conversation_id)
