"""Changing a group: rename, add and remove members, admins, leaving.

Each change writes a system line into the timeline (a message of kind "system" whose
`text` tells it to any client and whose `data` says it to those that know the kind),
then tells everyone concerned once committed:
- `message` (the system line) to the members after the change and to whoever left or
  was removed: the line saying so is the last thing they get;
- `conversation_updated` (`{id, title, members}`) to the members after the change; the one
  who left gets their own read-only view instead. It also drops the group from every
  instance's lookup cache, so the departed member's sockets stop receiving at once;
- `conversation` (their view of it) to members just added.
The group's row is locked first, so concurrent changes (two admins leaving at once) run
one after the other, and a system line's id orders with messages as `send_message`'s do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict, Forbidden, NotFound
from shared.timestamps import utcnow
from shared.validation import check_field, invalid

from ..events import queue_event
from ..models import Conversation, Member, Message, User
from .conversations import GROUP_TITLE, MAX_GROUP_MEMBERS, conversation_views, friends_named, get_view
from .payloads import member_payloads, message_payload, system_line_text, user_payload


def _open_group(session: Session, conversation_id: int, me: User) -> tuple[Conversation, Member]:
    """The group (locked for this change) and my membership: 404 for a non-member, 403 for a
    former one, 409 for a direct conversation (it has no title or members to change)."""
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    mine = session.get(Member, (conversation_id, me.id)) if conversation is not None else None
    if mine is None:
        raise NotFound("No such conversation.")
    if mine.left_message_id is not None:
        raise Forbidden("You are no longer a member of this group; it is read-only.")
    if conversation.kind != "group":
        raise Conflict("A direct conversation has no title or members to change.")
    return conversation, mine


def _require_admin(mine: Member) -> None:
    if mine.role != "admin":
        raise Forbidden("Only the group's admins can do this.")


def _current_members(session: Session, conversation_id: int) -> list[tuple[Member, User]]:
    """Longest-standing first."""
    return [(member, user) for member, user in session.execute(
        select(Member, User).join(User, User.id == Member.user_id)
        .where(Member.conversation_id == conversation_id, Member.left_message_id.is_(None))
        .order_by(Member.joined_at, Member.user_id)
    )]


def _member(session: Session, conversation_id: int, user: User | None) -> Member:
    member = session.get(Member, (conversation_id, user.id)) if user is not None else None
    if member is None or member.left_message_id is not None:
        raise NotFound("No such member in this group.")
    return member


def _system_line(session: Session, conversation: Conversation, actor: User,
                 data: dict[str, Any]) -> tuple[Message, dict[str, Any]]:
    now = utcnow()
    line = Message(conversation_id=conversation.id, sender_id=actor.id, text=system_line_text(actor.username, data),
                   client_id=None, created_at=now, kind="system", data=data)
    session.add(line)
    session.flush()
    previous_id = conversation.last_message_id
    conversation.last_message_id = line.id
    conversation.last_activity_at = now
    session.execute(update(Member).where(Member.conversation_id == conversation.id, Member.user_id == actor.id,
                                         Member.last_read_message_id < line.id)
                    .values(last_read_message_id=line.id))
    return line, {**message_payload(line, actor), "previous_id": previous_id}


def _announce(session: Session, conversation: Conversation, line: dict[str, Any],
              departed: list[User] = ()) -> None:
    members = _current_members(session, conversation.id)
    ids = [user.id for _, user in members]
    queue_event(session, "message", line, [*ids, *(u.id for u in departed)])
    roles = {member.user_id: member.role for member, _ in members}
    queue_event(session, "conversation_updated",
                {"id": conversation.id, "kind": conversation.kind, "title": conversation.title,
                 "members": member_payloads(conversation, [user for _, user in members], roles)}, ids)
    for user in departed:
        queue_event(session, "conversation_updated", conversation_views(session, user.id, conversation.id)[0],
                    [user.id])


@transaction
def rename(session: Session, me: User, conversation_id: int, title: object) -> dict[str, Any]:
    """Any member may rename the group."""
    title = check_field("title", GROUP_TITLE, title)
    conversation, _ = _open_group(session, conversation_id, me)
    if title != conversation.title:
        previous = conversation.title
        conversation.title = title
        _, line = _system_line(session, conversation, me, {"action": "renamed", "title": title, "previous_title": previous})
        _announce(session, conversation, line)
    return get_view(session, me.id, conversation_id)


@transaction
def add_members(session: Session, me: User, conversation_id: int, usernames: object) -> dict[str, Any]:
    """Any member may add their friends. Someone who had left or been removed comes back
    with the whole history, like anyone added."""
    conversation, _ = _open_group(session, conversation_id, me)
    friends = friends_named(session, me, usernames)
    current = {user.id for _, user in _current_members(session, conversation_id)}
    added = sorted((f for f in friends if f.id not in current), key=lambda u: u.username.lower())
    if not added:
        raise Conflict("They are already members of this group.")
    if len(current) + len(added) > MAX_GROUP_MEMBERS:
        raise invalid("members", f"would make the group larger than {MAX_GROUP_MEMBERS} members")
    now = utcnow()
    for user in added:
        member = session.get(Member, (conversation_id, user.id))
        if member is None:
            session.add(Member(conversation_id=conversation_id, user_id=user.id, joined_at=now, role="member"))
        else:
            member.left_message_id, member.removed, member.role, member.joined_at = None, False, "member", now
    session.flush()
    _, line = _system_line(session, conversation, me, {"action": "added", "users": [user_payload(u) for u in added]})
    _announce(session, conversation, line)
    for user in added:
        queue_event(session, "conversation", conversation_views(session, user.id, conversation_id)[0], [user.id])
    return get_view(session, me.id, conversation_id)


def _depart(session: Session, conversation: Conversation, me: User, member: Member, user: User, *,
            removed: bool) -> None:
    """`user` leaves (or is removed by me): the line saying so is the last they may read.
    When the last admin goes, the longest-standing member left becomes one."""
    was_admin = member.role == "admin"
    member.role = "member"
    remaining = [(m, u) for m, u in _current_members(session, conversation.id) if u.id != user.id]
    heirs: list[User] = []
    if was_admin and remaining and not any(m.role == "admin" for m, _ in remaining):
        heir_member, heir = remaining[0]
        heir_member.role = "admin"
        heirs = [heir]
    data = {"action": "removed" if removed else "left", "users": [user_payload(user)],
            "admins": [user_payload(h) for h in heirs], "title": conversation.title}
    line, payload = _system_line(session, conversation, me, data)
    member.left_message_id = line.id
    member.removed = removed
    session.flush()
    _announce(session, conversation, payload, departed=[user])


@transaction
def leave(session: Session, me: User, conversation_id: int) -> None:
    conversation, mine = _open_group(session, conversation_id, me)
    _depart(session, conversation, me, mine, me, removed=False)


@transaction
def remove_member(session: Session, me: User, conversation_id: int, user: User | None) -> None:
    """An admin removes a member; removing myself is leaving."""
    conversation, mine = _open_group(session, conversation_id, me)
    if user is not None and user.id == me.id:
        _depart(session, conversation, me, mine, me, removed=False)
        return
    _require_admin(mine)
    member = _member(session, conversation_id, user)
    _depart(session, conversation, me, member, user, removed=True)


@transaction
def make_admin(session: Session, me: User, conversation_id: int, user: User | None) -> dict[str, Any]:
    """An admin makes another member an admin (nothing changes if they are one already)."""
    conversation, mine = _open_group(session, conversation_id, me)
    _require_admin(mine)
    member = _member(session, conversation_id, user)
    if member.role != "admin":
        member.role = "admin"
        _, line = _system_line(session, conversation, me, {"action": "made_admin", "users": [user_payload(user)]})
        _announce(session, conversation, line)
    return get_view(session, me.id, conversation_id)
