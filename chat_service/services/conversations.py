"""Conversations (direct and group), membership and the conversation list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Forbidden, NotFound
from shared.timestamps import utcnow
from shared.validation import Text, check_field, invalid

from ..cache import ConversationFacts, lookup_cache
from ..events import queue_event
from ..models import Attachment, Conversation, Friendship, Member, Message, User, ordered_pair
from . import attachments
from .payloads import conversation_payload, message_payload
from .validation import USERNAME

MAX_GROUP_MEMBERS = 100


def membership(session: Session, conversation_id: int, user_id: int) -> ConversationFacts:
    """The conversation's kind and members (cached per process); 404 when I am not a
    member (or it does not exist)."""
    cache = lookup_cache(session)
    facts = cache.conversation(conversation_id)
    if facts is None:
        rows = session.execute(
            select(Conversation.kind, Conversation.direct_user_low_id, Conversation.direct_user_high_id,
                   Member.user_id)
            .join(Member, Member.conversation_id == Conversation.id)
            .where(Conversation.id == conversation_id)
        ).all()
        if not rows:
            raise NotFound("No such conversation.")
        kind, low, high, _ = rows[0]
        facts = ConversationFacts(conversation_id, kind, (low, high) if kind == "direct" else None,
                                  frozenset(row[3] for row in rows))
        cache.remember_conversation(facts)
    if user_id not in facts.member_ids:
        raise NotFound("No such conversation.")
    return facts


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
                                read_markers={})


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


@transaction
def create_group(session: Session, me: User, title: object, usernames: object) -> dict[str, Any]:
    title = check_field("title", Text(max_length=100, strip=True), title)
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
    now = utcnow()
    conversation = Conversation(kind="group", title=title, created_by_id=me.id, created_at=now,
                                last_activity_at=now)
    session.add(conversation)
    session.flush()
    members = [me, *friends]
    session.add_all([Member(conversation_id=conversation.id, user_id=u.id) for u in members])
    payload = _new_conversation_payload(conversation, members)
    queue_event(session, "conversation", payload, [u.id for u in members])
    return payload


def conversation_views(session: Session, user_id: int, conversation_id: int | None = None) -> list[dict[str, Any]]:
    """My conversations (or one of them), newest activity first, with members,
    last message and unread count -- four queries however many conversations."""
    mine = select(Member.conversation_id).where(Member.user_id == user_id)
    if conversation_id is not None:
        mine = mine.where(Member.conversation_id == conversation_id)
    rows = session.execute(
        select(Conversation, Member.last_read_message_id)
        .join(Member, Member.conversation_id == Conversation.id)
        .where(Member.user_id == user_id, Conversation.id.in_(mine))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    ).all()
    if not rows:
        return []

    members: dict[int, list[User]] = {}
    read_markers: dict[int, dict[int, int]] = {}
    for cid, user, last_read in session.execute(
        select(Member.conversation_id, User, Member.last_read_message_id).join(User, User.id == Member.user_id)
        .where(Member.conversation_id.in_(mine))
    ):
        members.setdefault(cid, []).append(user)
        read_markers.setdefault(cid, {})[user.id] = last_read

    last_messages: dict[int, dict[str, Any]] = {}
    # One row per attachment of each last message (one row when it has none).
    for message, sender, attachment in session.execute(
        select(Message, User, Attachment)
        .join(Conversation, Conversation.last_message_id == Message.id)
        .join(User, User.id == Message.sender_id)
        .outerjoin(Attachment, Attachment.message_id == Message.id)
        .where(Conversation.id.in_(mine))
        .order_by(Attachment.id)
    ):
        payload = last_messages.setdefault(message.conversation_id,
                                           {**message_payload(message, sender), "attachments": []})
        if attachment is not None:
            payload["attachments"].append(attachments.attachment_payload(attachment))

    unread = dict(session.execute(
        select(Message.conversation_id, func.count())
        .join(Member, (Member.conversation_id == Message.conversation_id) & (Member.user_id == user_id))
        .where(Message.conversation_id.in_(mine), Message.id > Member.last_read_message_id,
               Message.sender_id != user_id)
        .group_by(Message.conversation_id)
    ).all())

    return [
        conversation_payload(conversation, members.get(conversation.id, []),
                             last_message=last_messages.get(conversation.id),
                             unread_count=unread.get(conversation.id, 0), last_read_message_id=last_read,
                             read_markers=read_markers.get(conversation.id, {}))
        for conversation, last_read in rows
    ]


def get_view(session: Session, user_id: int, conversation_id: int) -> dict[str, Any]:
    views = conversation_views(session, user_id, conversation_id)
    if not views:
        raise NotFound("No such conversation.")
    return views[0]
