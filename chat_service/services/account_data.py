"""Everything chat holds of one user, for them to download: friends, conversations, their own messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Message, User
from .attachments import with_attachments
from .conversations import conversation_views
from .friends import list_friends
from .message_details import message_payloads
from .payloads import user_payload


def export(session: Session, user_id: int) -> dict[str, Any]:
    """Others' messages are theirs: only the conversations' members and the user's own messages are included."""
    me = session.get(User, user_id)
    sent = session.scalars(select(Message).where(Message.sender_id == user_id)
                           .order_by(Message.conversation_id, Message.id))
    return {
        "friends": [user_payload(friend) for friend in list_friends(session, user_id)],
        # Without `last_message`: it is often someone else's.
        "conversations": [{key: value for key, value in view.items() if key != "last_message"}
                          for view in conversation_views(session, user_id)],
        "messages": with_attachments(session, message_payloads(session, [(message, me) for message in sent], user_id))
        if me else [],
    }
