"""Finding people, friend requests, and starting conversations with friends."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..backends import caller, login_required
from ..clients import RequestRejected
from ..forms import back
from ..state import app_state
from . import layout_context

bp = Blueprint("friends", __name__)

MAX_QUERY = 32


@bp.get("/friends")
@login_required
def index():
    return _render()


def _render(group: dict | None = None, status: int = 200):
    """The Friends page; `group` carries a refused new-group form back (its input and error)."""
    chat, auth = app_state().chat, app_state().auth
    context = layout_context()
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    friends = chat.friends(caller())
    incoming = chat.friend_requests(caller(), "incoming")
    outgoing = chat.friend_requests(caller(), "outgoing")
    blocked = chat.blocks(caller())

    relation = {f["id"]: ("friend", None) for f in friends}
    relation.update({b["user"]["id"]: ("blocked", None) for b in blocked})
    relation.update({r["to"]["id"]: ("outgoing", r["id"]) for r in outgoing})
    relation.update({r["from"]["id"]: ("incoming", r["id"]) for r in incoming})
    relation[context["user"]["id"]] = ("you", None)
    # auth finds the people; chat knows the avatars of those this user may see.
    avatars = {u["id"]: u["avatar_url"] for u in [*friends, *(r["from"] for r in incoming),
                                                  *(r["to"] for r in outgoing), context["user"]]}
    results = [
        {"user": {**user, "avatar_url": avatars.get(user["id"])}, "relation": relation.get(user["id"], ("none", None))[0],
         "request_id": relation.get(user["id"], ("none", None))[1]}
        for user in (auth.search_users(caller(), query) if query else [])
    ]
    group = group or {"title": "", "members": [], "error": None}
    return render_template("friends.html", query=query, results=results, friends=friends,
                           incoming=incoming, outgoing=outgoing, blocked=blocked, group=group, **context), status


@bp.post("/friends/requests")
@login_required
def send_request():
    username = request.form.get("username", "").strip()
    if not username:
        flash("Choose someone to add.", "error")
        return redirect(back(), code=303)
    result = app_state().chat.send_friend_request(caller(), username)
    if "friend" in result:
        flash(f"You and {result['friend']['username']} are now friends.", "success")
    else:
        flash(f"Friend request sent to {username}.", "success")
    return redirect(back(), code=303)


@bp.post("/friends/requests/<int:request_id>/accept")
@login_required
def accept_request(request_id: int):
    result = app_state().chat.accept_friend_request(caller(), request_id)
    flash(f"You and {result['friend']['username']} are now friends.", "success")
    return redirect(back(), code=303)


@bp.post("/friends/requests/<int:request_id>/decline")
@login_required
def decline_request(request_id: int):
    app_state().chat.decline_friend_request(caller(), request_id)
    flash("Request declined.", "info")
    return redirect(back(), code=303)


@bp.post("/friends/requests/<int:request_id>/cancel")
@login_required
def cancel_request(request_id: int):
    app_state().chat.cancel_friend_request(caller(), request_id)
    flash("Request cancelled.", "info")
    return redirect(back(), code=303)


@bp.post("/friends/<username>/block")
@login_required
def block(username: str):
    app_state().chat.block(caller(), username)
    flash(f"You blocked {username}. They can no longer message you or send you requests.", "info")
    return redirect(back(), code=303)


@bp.post("/friends/<username>/unblock")
@login_required
def unblock(username: str):
    app_state().chat.unblock(caller(), username)
    flash(f"You unblocked {username}.", "info")
    return redirect(back(), code=303)


@bp.post("/friends/<username>/remove")
@login_required
def remove_friend(username: str):
    app_state().chat.remove_friend(caller(), username)
    flash(f"You and {username} are no longer friends. Your chat stays, read-only.", "info")
    return redirect(url_for("friends.index"), code=303)


@bp.post("/friends/<username>/chat")
@login_required
def open_direct(username: str):
    conversation = app_state().chat.direct_conversation(caller(), username)
    return redirect(url_for("chat.conversation", conversation_id=conversation["id"]), code=303)


@bp.get("/groups")
def new_group_form():
    # Reloading a refused form (shown at the POST's address) asks for this: the form lives on Friends.
    return redirect(url_for("friends.index", _anchor="new-group"), code=303)


@bp.post("/groups")
@login_required
def create_group():
    title = request.form.get("title", "").strip()
    members = [name for name in request.form.getlist("members") if name.strip()]
    group = {"title": title, "members": members, "error": None}
    # A refused form comes back as it was typed, with the reason beside it (not in a toast).
    if not title:
        group["error"] = {"field": "title", "message": "Enter a group name."}
    elif not members:
        group["error"] = {"field": "members", "message": "Pick at least one friend."}
    else:
        try:
            conversation = app_state().chat.create_group(caller(), title, members)
        except RequestRejected as error:
            if error.status != 422:
                raise
            field = "title" if "title" in error.fields else "members"
            if field == "title":  # the API names its rule; say it the way the empty name is said
                message = "A group name can be at most 100 characters." if len(title) > 100 else "Enter a group name."
            else:
                message = error.fields.get(field) or error.message
            group["error"] = {"field": field, "message": message}
        else:
            return redirect(url_for("chat.conversation", conversation_id=conversation["id"]), code=303)
    return _render(group, 422)
