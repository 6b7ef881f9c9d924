"""Conversations (direct and group), membership and the conversation list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Forbidden, NotFound
from shared.timestamps import format_timestamp, utcnow
from shared.validation import Text, check_field, invalid

from ..cache import ConversationFacts, lookup_cache
from ..events import queue_event
from ..models import Attachment, Block, Conversation, Friendship, Member, Message, User, ordered_pair
from . import attachments
from .mentions import mentions
from .message_details import message_payloads
from .payloads import conversation_payload
from .validation import USERNAME

MAX_GROUP_MEMBERS = 100


def membership(session: Session, conversation_id: int, user_id: int) -> ConversationFacts:
    """The conversation's kind and current members (cached per process); 404 when I
    was never a member (or it does not exist), 403 when I left or was removed."""
    cache = lookup_cache(session)
    facts = cache.conversation(conversation_id)
    if facts is None:
        rows = session.execute(
            select(Conversation.kind, Conversation.direct_user_low_id, Conversation.direct_user_high_id,
                   Member.user_id)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id, Member.left_message_id.is_(None))
        ).all()
        if rows:
            kind, low, high, _ = rows[0]
            facts = ConversationFacts(conversation_id, kind, (low, high) if kind == "direct" else None,
                                      frozenset(row[3] for row in rows))
            cache.remember_conversation(facts)
    if facts is None or user_id not in facts.member_ids:
        if former_member_cutoff(session, conversation_id, user_id) is not None:
            raise Forbidden("You are no longer a member of this group; it is read-only.")
        raise NotFound("No such conversation.")
    return facts


def former_member_cutoff(session: Session, conversation_id: int, user_id: int) -> int | None:
    """The last message a member who left (or was removed) may read; None for anyone else."""
    return session.scalar(select(Member.left_message_id).where(Member.conversation_id == conversation_id,
                                                               Member.user_id == user_id))


def readable_up_to(session: Session, conversation_id: int, user_id: int) -> int | None:
    """None when I am a member (everything is mine to read); the last message id I may
    read when I left or was removed; 404 when I was never a member."""
    try:
        membership(session, conversation_id, user_id)
    except Forbidden:
        return former_member_cutoff(session, conversation_id, user_id)
    return None


def require_can_post(session: Session, conversation: ConversationFacts) -> None:
    """A direct conversation is writable only while its two members are friends."""
    if conversation.direct_pair is None:
        return
    cache = lookup_cache(session)
    if cache.are_friends(conversation.direct_pair):
        return
    generation = cache.friendship_generation()
    if session.get(Friendship, conversation.direct_pair) is None:
        raise Forbidden("You are no longer friends; this conversation is read-only.")
    cache.remember_friendship(conversation.direct_pair, generation)


def _new_conversation_payload(conversation: Conversation, members: list[User]) -> dict[str, Any]:
    return conversation_payload(conversation, members, last_message=None, unread_count=0, last_read_message_id=0,
                                read_markers={}, muted=False)


def get_or_create_direct(session: Session, me: User, other: User) -> int:
    """Id of the one direct conversation of this pair, created (with a `conversation`
    event to both) when missing. Race-safe through the unique ordered pair. Does not commit."""
    low, high = ordered_pair(me.id, other.id)
    lookup = select(Conversation.id).where(Conversation.direct_user_low_id == low,
                                           Conversation.direct_user_high_id == high)
    existing = session.scalar(lookup)
    if existing is not None:
        return existing
    now = utcnow()
    conversation = Conversation(kind="direct", title=None, direct_user_low_id=low, direct_user_high_id=high,
                                created_by_id=me.id, created_at=now, last_activity_at=now)
    try:
        with session.begin_nested():
            session.add(conversation)
            session.flush()
            session.add_all([Member(conversation_id=conversation.id, user_id=uid) for uid in (low, high)])
            session.flush()
    except IntegrityError:
        # Someone created it concurrently; theirs is the one.
        return session.scalar(lookup)
    queue_event(session, "conversation", _new_conversation_payload(conversation, [me, other]), [low, high])
    return conversation.id


@transaction
def open_direct(session: Session, me: User, other: User) -> dict[str, Any]:
    """POST /api/conversations/direct: the conversation with a friend, created if needed."""
    if other.id == me.id:
        raise invalid("username", "must name someone other than you")
    if session.get(Friendship, ordered_pair(me.id, other.id)) is None:
        raise Forbidden("You can only talk directly with your friends.")
    conversation_id = get_or_create_direct(session, me, other)
    return conversation_views(session, me.id, conversation_id)[0]


def friends_named(session: Session, me: User, usernames: object) -> list[User]:
    """My friends named in `usernames` (a non-empty list, me left out); 422 naming whoever is not one."""
    if not isinstance(usernames, list) or not usernames:
        raise invalid("members", "must be a non-empty list of usernames")
    if len(usernames) > MAX_GROUP_MEMBERS:
        raise invalid("members", f"must list at most {MAX_GROUP_MEMBERS} usernames")
    wanted = {check_field("members", USERNAME, name).lower() for name in usernames}
    wanted.discard(me.username.lower())
    if not wanted:
        raise invalid("members", "must name at least one user besides you")
    friend_id = Friendship.user_low_id + Friendship.user_high_id - me.id
    friends = list(session.scalars(
        select(User).join(Friendship, User.id == friend_id)
        .where((Friendship.user_low_id == me.id) | (Friendship.user_high_id == me.id),
               func.lower(User.username).in_(wanted))
    ))
    missing = wanted - {f.username.lower() for f in friends}
    if missing:
        raise invalid("members", "must all be your friends; not friends: " + ", ".join(sorted(missing)))
    return friends


GROUP_TITLE = Text(max_length=100, strip=True)


@transaction
def create_group(session: Session, me: User, title: object, usernames: object) -> dict[str, Any]:
    title = check_field("title", GROUP_TITLE, title)
    friends = friends_named(session, me, usernames)
    now = utcnow()
    conversation = Conversation(kind="group", title=title, created_by_id=me.id, created_at=now,
                                last_activity_at=now)
    session.add(conversation)
    session.flush()
    members = [me, *friends]
    # The creator is the group's first admin.
    session.add_all([Member(conversation_id=conversation.id, user_id=u.id, role="admin" if u is me else "member")
                     for u in members])
    payload = conversation_payload(conversation, members, last_message=None, unread_count=0,
                                   last_read_message_id=0, read_markers={}, roles={me.id: "admin"})
    queue_event(session, "conversation", payload, [u.id for u in members])
    return payload


def conversation_views(session: Session, user_id: int, conversation_id: int | None = None) -> list[dict[str, Any]]:
    """My conversations (or one of them), newest activity first, with members,
    last message and unread count -- a fixed number of queries however many conversations.

    A conversation I left (or was removed from) shows as it was when I left: the
    system line saying so is its last message, and members, title and markers stop there.
    """
    mine = select(Member.conversation_id).where(Member.user_id == user_id)
    if conversation_id is not None:
        mine = mine.where(Member.conversation_id == conversation_id)
    # A direct pair's friendship, and whether I blocked the other, ride along in the same query.
    still_friends = exists().where(Friendship.user_low_id == Conversation.direct_user_low_id,
                                   Friendship.user_high_id == Conversation.direct_user_high_id)
    i_blocked = exists().where(Block.blocker_id == user_id, Block.blocked_id == (
        Conversation.direct_user_low_id + Conversation.direct_user_high_id - user_id))
    rows = session.execute(
        select(Conversation, Member, still_friends, i_blocked)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == user_id, Conversation.id.in_(mine))
    ).all()
    if not rows:
        return []
    current = select(Member.conversation_id).where(Member.user_id == user_id, Member.left_message_id.is_(None))
    if conversation_id is not None:
        current = current.where(Member.conversation_id == conversation_id)

    members: dict[int, list[User]] = {}
    roles: dict[int, dict[int, str]] = {}
    read_markers: dict[int, dict[int, int]] = {}
    for cid, user, last_read, role in session.execute(
        select(Member.conversation_id, User, Member.last_read_message_id, Member.role)
        .join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(current), Member.left_message_id.is_(None))
    ):
        members.setdefault(cid, []).append(user)
        roles.setdefault(cid, {})[user.id] = role
        read_markers.setdefault(cid, {})[user.id] = last_read

    # My last readable message: the conversation's last one, or the line saying I left.
    last_visible = {conversation.id: member.left_message_id or conversation.last_message_id
                    for conversation, member, _, _ in rows}
    last_rows: dict[int, tuple[Message, User]] = {}
    last_attachments: dict[int, list[dict[str, Any]]] = {}
    # One row per attachment of each last message (one row when it has none).
    for message, sender, attachment in session.execute(
        select(Message, User, Attachment)
        .join(User, User.id == Message.sender_id)
        .outerjoin(Attachment, Attachment.message_id == Message.id)
        .where(Message.id.in_([mid for mid in last_visible.values() if mid is not None]))
        .order_by(Attachment.id)
    ):
        last_rows.setdefault(message.conversation_id, (message, sender))
        found = last_attachments.setdefault(message.conversation_id, [])
        if attachment is not None:
            found.append(attachments.attachment_payload(attachment))
    # {conversation id: (message, payload)}
    last_messages = {
        payload["conversation_id"]: (last_rows[payload["conversation_id"]][0],
                                     {**payload, "attachments": last_attachments[payload["conversation_id"]]})
        for payload in message_payloads(session, list(last_rows.values()), user_id)}

    my_marker = (Member.conversation_id == Message.conversation_id) & (Member.user_id == user_id)
    is_unread = (Message.conversation_id.in_(mine), Message.id > Member.last_read_message_id,
                 Message.sender_id != user_id, Message.deleted_at.is_(None), Message.kind != "system",
                 (Member.left_message_id.is_(None)) | (Message.id <= Member.left_message_id))
    unread = dict(session.execute(
        select(Message.conversation_id, func.count()).join(Member, my_marker).where(*is_unread)
        .group_by(Message.conversation_id)
    ).all())
    # Unread messages of groups that mention me: they count even where I muted the group. The
    # database narrows by the text; the exact rule is the browser's (mentions.py).
    unread_mentions = Counter(conversation_id for conversation_id, text, username in session.execute(
        select(Message.conversation_id, Message.text, User.username).join(Member, my_marker)
        .join(Conversation, Conversation.id == Message.conversation_id).join(User, User.id == user_id)
        .where(*is_unread, Conversation.kind == "group", Message.text.icontains("@" + User.username))
    ) if mentions(text, username))

    views = []
    for conversation, member, friends, blocked in rows:
        last = last_messages.get(conversation.id)
        view = conversation_payload(
            conversation, members.get(conversation.id, []), last_message=last[1] if last else None,
            unread_count=unread.get(conversation.id, 0), unread_mentions=unread_mentions[conversation.id],
            last_read_message_id=member.last_read_message_id,
            read_markers=read_markers.get(conversation.id, {}), roles=roles.get(conversation.id, {}),
            muted=member.muted)
        if member.left_message_id is not None:
            # Nothing that happened after I left: the title as it was then, no members.
            departure = last[0] if last else None
            view["title"] = (departure.data or {}).get("title", view["title"]) if departure else view["title"]
            view["membership"] = "removed" if member.removed else "left"
            view["read_only"] = True
            if departure is not None:
                view["last_activity_at"] = format_timestamp(departure.created_at)
        elif conversation.kind == "direct":
            view["read_only"] = not friends
            view["blocked"] = bool(blocked)
        views.append(view)
    views.sort(key=lambda v: (v["last_activity_at"], v["id"]), reverse=True)
    return views


def get_view(session: Session, user_id: int, conversation_id: int) -> dict[str, Any]:
    views = conversation_views(session, user_id, conversation_id)
    if not views:
        raise NotFound("No such conversation.")
    return views[0]


@transaction
def set_muted(session: Session, user_id: int, conversation_id: int, muted: bool) -> dict[str, Any]:
    """Mute or unmute a conversation for me alone. My other tabs and devices learn it
    from the `conversation` event; the other members are not told."""
    membership(session, conversation_id, user_id)
    session.execute(update(Member).where(Member.conversation_id == conversation_id, Member.user_id == user_id)
                    .values(muted=muted))
    view = get_view(session, user_id, conversation_id)
    queue_event(session, "conversation", view, [user_id])
    return view
