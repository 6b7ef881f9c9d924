"""Message search: the caller's conversations, newest first, with the matching words marked.

The index is the database's own (migration 0004): PostgreSQL full-text search (a generated
tsvector column, 'simple' configuration, GIN index) and SQLite FTS5 on the embedded
default. Both follow every change of `messages.text` by themselves.

A query is split on whitespace; every word must occur, and the last one also matches as
a prefix (search as you type), unless it is one letter alone. Each word is handed to the
database's own parser as a quoted phrase, so it is split exactly as the stored texts were
("e-mail" finds "e-mail").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, literal_column, select, text
from sqlalchemy.orm import Session

from shared.validation import MAX_ID, Fields, QueryInt, Text, invalid

from ..models import Conversation, Member, Message, User
from . import attachments
from .conversations import membership
from .message_details import message_payloads

MAX_QUERY = 200
MAX_WORDS = 10
MAX_PAGE = 50
DEFAULT_PAGE = 20
# A lone one-letter prefix matches a large part of every index for little use; after another
# word ("flood 3") that word narrows it, and the letter is what the user is typing.
MIN_PREFIX_ALONE = 2
# Up to this many messages in the searched chats, all of them are read and tested (PostgreSQL).
OWN_MESSAGES_READ_LIMIT = 10_000

SEARCH = Fields(q=Text(max_length=MAX_QUERY, strip=True),
                conversation_id=QueryInt(1, MAX_ID), before=QueryInt(1, MAX_ID),
                limit=QueryInt(1, MAX_PAGE, default=DEFAULT_PAGE))

# What both indexes count as a word: runs of letters and digits.
WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchQuery:
    words: tuple[str, ...]  # as typed, split on whitespace; each has a letter or digit
    prefix: bool            # whether the last word also matches as a prefix

    @classmethod
    def parse(cls, q: str) -> "SearchQuery":
        words = tuple(word for word in q.split() if WORD.search(word))
        if not words:
            raise invalid("q", "must contain a word (letters or digits)")
        if len(words) > MAX_WORDS:
            raise invalid("q", f"must have at most {MAX_WORDS} words")
        return cls(words, prefix=len(words) > 1 or len("".join(WORD.findall(words[-1]))) >= MIN_PREFIX_ALONE)

    def _is_prefix(self, index: int) -> bool:
        return self.prefix and index == len(self.words) - 1

    def tsquery(self) -> str:
        """For PostgreSQL's to_tsquery: every word a quoted phrase (quotes and backslashes,
        the only characters special inside one, become spaces), ANDed; the last one `:*`."""
        parts = []
        for index, word in enumerate(self.words):
            quoted = "'" + word.replace("'", " ").replace("\\", " ") + "'"
            parts.append(quoted + (":*" if self._is_prefix(index) else ""))
        return " & ".join(parts)

    def fts5(self) -> str:
        """For SQLite FTS5's MATCH: every word a quoted phrase (double quotes doubled); the last one `*`."""
        parts = []
        for index, word in enumerate(self.words):
            quoted = '"' + word.replace('"', '""') + '"'
            parts.append(quoted + ("*" if self._is_prefix(index) else ""))
        return " ".join(parts)

    def highlights(self, message_text: str) -> list[list[int]]:
        """[start, end) offsets, in characters (code points), of the words of `message_text`
        that the query matched: the same word, or any word starting with the last query
        word when it is a prefix. Case and diacritics are ignored (FTS5 ignores both, PostgreSQL
        only case: there a message found for "café" may also have its "cafe" marked)."""
        terms = [fold(part) for word in self.words for part in WORD.findall(word)]
        exact = set(terms)
        prefix = terms[-1] if self.prefix else None
        spans = []
        for found in WORD.finditer(message_text):
            word = fold(found.group())
            if word in exact or (prefix is not None and word.startswith(prefix)):
                spans.append([found.start(), found.end()])
        return spans


def fold(word: str) -> str:
    """Lowercase without diacritics: "Café" -> "cafe"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class SearchPage:
    results: list[dict[str, Any]]
    next_before: int | None  # pass as `before` for the next (older) page; None on the last page


def _newest_matching_ids(session: Session, query: SearchQuery, conversation_ids: list[int], before: int | None,
                         count: int) -> list[int]:
    """Ids of the newest `count` matching messages of these conversations, newest first."""
    candidates = [Message.conversation_id.in_(conversation_ids)]
    if before is not None:
        candidates.append(Message.id < before)
    if session.get_bind().dialect.name != "postgresql":
        matching = text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :search_match").bindparams(
            search_match=query.fts5())
        statement = select(Message.id).where(*candidates, Message.id.in_(matching))
        return list(session.scalars(statement.order_by(Message.id.desc()).limit(count)))
    tsquery = query.tsquery()
    probe = select(literal(1)).where(*candidates).limit(OWN_MESSAGES_READ_LIMIT).subquery()
    if session.scalar(select(func.count()).select_from(probe)) < OWN_MESSAGES_READ_LIMIT:
        # Most users: reading each message of their chats and testing its words is cheaper than
        # any plan over the whole table, and bounded. Left to itself, the planner often reads
        # the table backwards by id instead, through every newer message of other people's chats
        # (0.4 s at 1,000,000 messages for a user whose chats went quiet).
        own = (select(Message.id, literal_column("messages.search_vector").label("search_vector"))
               .where(*candidates).cte("own").prefix_with("MATERIALIZED"))
        statement = select(own.c.id).where(text("own.search_vector @@ to_tsquery('simple', :search_tsquery)")
                                           .bindparams(search_tsquery=tsquery)).order_by(own.c.id.desc())
    else:
        # Chats holding many messages: the planner weighs the text index against reading by id.
        statement = select(Message.id).where(
            *candidates, text("messages.search_vector @@ to_tsquery('simple', :search_tsquery)")
            .bindparams(search_tsquery=tsquery)).order_by(Message.id.desc())
    return list(session.scalars(statement.limit(count)))


def _conversation_summaries(session: Session, user_id: int, conversation_ids: set[int]) -> dict[int, dict]:
    """{id: {id, kind, title}} where a direct conversation's title is the other member's name."""
    summaries: dict[int, dict] = {}
    if not conversation_ids:
        return summaries
    partners: dict[int, int] = {}
    for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))):
        summaries[conversation.id] = {"id": conversation.id, "kind": conversation.kind, "title": conversation.title}
        if conversation.kind == "direct":
            low, high = conversation.direct_user_low_id, conversation.direct_user_high_id
            partners[conversation.id] = high if low == user_id else low
    if partners:
        names = dict(session.execute(select(User.id, User.username).where(User.id.in_(set(partners.values())))).all())
        for conversation_id, partner_id in partners.items():
            summaries[conversation_id]["title"] = names.get(partner_id)
    return summaries


def search_messages(session: Session, user_id: int, q: str, *, conversation_id: int | None = None,
                    before: int | None = None, limit: int = DEFAULT_PAGE) -> SearchPage:
    """Messages matching `q` in the conversations I am a member of now (or in one of them:
    404 when I am not its member), newest first, `limit` at a time, older than `before`."""
    query = SearchQuery.parse(q)
    mine = select(Member.conversation_id).where(Member.user_id == user_id)
    if conversation_id is not None:
        membership(session, conversation_id, user_id)
        mine = mine.where(Member.conversation_id == conversation_id)
    mine = list(session.scalars(mine))
    if not mine:
        return SearchPage([], None)
    ids = _newest_matching_ids(session, query, mine, before, limit + 1)
    more = len(ids) > limit
    ids = ids[:limit]
    rows = session.execute(select(Message, User).join(User, User.id == Message.sender_id)
                           .where(Message.id.in_(ids)).order_by(Message.id.desc())).all() if ids else []
    conversations = _conversation_summaries(session, user_id, {message.conversation_id for message, _ in rows})
    payloads = attachments.with_attachments(session, message_payloads(session, list(rows), user_id))
    results = [{"message": payload, "conversation": conversations[payload["conversation_id"]],
                "highlights": query.highlights(payload["text"])}
               for payload in payloads]
    return SearchPage(results, ids[-1] if more else None)
