"""Editing, deleting, reactions and replies: REST on both databases, and the live events."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from chat_service.models import Message
from chat_service.services import message_changes
from shared.database import normalize_database_url
from shared.errors import Unavailable
from shared.timestamps import utcnow

from .test_socket import connect, events  # noqa: F401 (fixture)


@pytest.fixture
def pair(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    return alice, bob, auth.befriend(alice, bob)


def stored(database_url, message_id):
    engine = create_engine(normalize_database_url(database_url))
    try:
        with Session(engine) as session:
            message = session.get(Message, message_id)
            session.expunge(message)
            return message
    finally:
        engine.dispose()


def history(client, user, conversation_id, **query):
    response = client.get(f"/api/conversations/{conversation_id}/messages", query_string=query, headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["messages"]


def conversation(client, user, conversation_id):
    return client.get(f"/api/conversations/{conversation_id}", headers=user.headers).get_json()["conversation"]


def react(client, user, message_id, emoji, method="put"):
    return getattr(client, method)(f"/api/messages/{message_id}/reactions/{quote(emoji)}", headers=user.headers)


def test_a_new_message_carries_the_new_fields(client, auth, pair):
    alice, _, cid = pair
    message = auth.send(alice, cid, "hi")
    assert message["edited_at"] is None and message["deleted"] is False
    assert message["reactions"] == [] and message["reply_to"] is None
    assert history(client, alice, cid)[0] == {k: v for k, v in message.items() if k != "previous_id"}


def test_the_sender_edits_and_everyone_sees_the_new_text(client, auth, pair):
    alice, bob, cid = pair
    message = auth.send(alice, cid, "helo")
    response = client.patch(f"/api/messages/{message['id']}", json={"text": "hello"}, headers=alice.headers)
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()["message"]
    assert edited["text"] == "hello" and edited["edited_at"] and edited["id"] == message["id"]
    seen = history(client, bob, cid)[0]
    assert seen["text"] == "hello" and seen["edited_at"] == edited["edited_at"]
    assert conversation(client, bob, cid)["last_message"]["text"] == "hello"


def test_only_the_sender_edits_or_deletes(client, auth, pair):
    alice, bob, cid = pair
    message = auth.send(alice, cid, "mine")
    assert client.patch(f"/api/messages/{message['id']}", json={"text": "x"}, headers=bob.headers).status_code == 403
    assert client.delete(f"/api/messages/{message['id']}", headers=bob.headers).status_code == 403
    assert history(client, alice, cid)[0]["text"] == "mine"


def test_a_stranger_learns_nothing(client, auth, pair):
    alice, _, cid = pair
    carol = auth.user("carol")
    message = auth.send(alice, cid, "secret")
    for response in (client.patch(f"/api/messages/{message['id']}", json={"text": "x"}, headers=carol.headers),
                     client.delete(f"/api/messages/{message['id']}", headers=carol.headers),
                     react(client, carol, message["id"], "👍"),
                     client.get(f"/api/messages/{message['id']}/reactions", headers=carol.headers),
                     client.delete(f"/api/messages/{message['id'] + 1000}", headers=alice.headers)):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
        assert response.get_json()["error"]["message"] == "No such message."


def test_bad_edits_are_refused_whole(client, auth, pair):
    alice, _, cid = pair
    message = auth.send(alice, cid, "keep")
    for body in ({}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": "x" * 4001}):
        response = client.patch(f"/api/messages/{message['id']}", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert "text" in response.get_json()["error"]["fields"]
    assert client.patch(f"/api/messages/{message['id']}", data="x", headers=alice.headers).status_code == 400
    assert history(client, alice, cid)[0]["text"] == "keep" and history(client, alice, cid)[0]["edited_at"] is None


def test_an_edit_after_the_window_is_a_conflict(client, auth, pair, database_url):
    alice, _, cid = pair
    message = auth.send(alice, cid, "old")
    engine = create_engine(normalize_database_url(database_url))
    with Session(engine) as session:
        session.get(Message, message["id"]).created_at = utcnow() - timedelta(hours=24, seconds=5)
        session.commit()
    engine.dispose()
    response = client.patch(f"/api/messages/{message['id']}", json={"text": "new"}, headers=alice.headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("config_overrides", [{"message_edit_window": 0}])
def test_a_zero_window_makes_nothing_editable(client, auth, pair):
    alice, _, cid = pair
    message = auth.send(alice, cid, "fixed")
    assert client.patch(f"/api/messages/{message['id']}", json={"text": "x"}, headers=alice.headers).status_code == 409


def test_delete_leaves_a_tombstone_without_the_text(client, auth, pair, database_url):
    alice, bob, cid = pair
    first = auth.send(alice, cid, "private words")
    last = auth.send(alice, cid, "and more")
    assert react(client, bob, first["id"], "👍").status_code == 200
    assert client.delete(f"/api/messages/{first['id']}", headers=alice.headers).status_code == 204
    assert client.delete(f"/api/messages/{first['id']}", headers=alice.headers).status_code == 204  # again: same
    row = stored(database_url, first["id"])
    assert row.text == "" and row.deleted_at is not None
    page = history(client, bob, cid)
    assert [m["id"] for m in page] == [first["id"], last["id"]]
    assert page[0]["deleted"] is True and page[0]["text"] == "" and page[0]["reactions"] == []
    assert history(client, bob, cid, before=last["id"])[0]["id"] == first["id"]
    edit = client.patch(f"/api/messages/{first['id']}", json={"text": "back"}, headers=alice.headers)
    assert edit.status_code == 409
    assert react(client, bob, first["id"], "👍").status_code == 409


def test_deleting_keeps_unread_counts_and_preview_right(client, auth, pair):
    alice, bob, cid = pair
    auth.send(alice, cid, "one")
    last = auth.send(alice, cid, "two")
    assert conversation(client, bob, cid)["unread_count"] == 2
    client.delete(f"/api/messages/{last['id']}", headers=alice.headers)
    view = conversation(client, bob, cid)
    assert view["unread_count"] == 1
    assert view["last_message"]["id"] == last["id"] and view["last_message"]["deleted"] is True
    assert view["last_message"]["text"] == ""


def test_deletion_hooks_run_inside_the_transaction(client, auth, pair, monkeypatch):
    alice, _, cid = pair
    message = auth.send(alice, cid, "with a file")
    seen = []
    monkeypatch.setattr(message_changes, "_deletion_hooks", [])
    message_changes.on_message_deleted(lambda session, m: seen.append((m.id, m.text, session.in_transaction())))
    assert client.delete(f"/api/messages/{message['id']}", headers=alice.headers).status_code == 204
    assert seen == [(message["id"], "", True)]

    def refuse(session, m):
        raise Unavailable()

    message_changes.on_message_deleted(refuse)
    other = auth.send(alice, cid, "stays")
    assert client.delete(f"/api/messages/{other['id']}", headers=alice.headers).status_code == 503
    assert history(client, alice, cid)[-1]["text"] == "stays"


def test_reactions_count_per_user_and_are_idempotent(client, auth, pair):
    alice, bob, cid = pair
    message = auth.send(alice, cid, "thanks")
    for user in (alice, bob, bob):
        response = react(client, user, message["id"], "👍")
        assert response.status_code == 200, response.get_json()
    assert react(client, bob, message["id"], "\u2764").status_code == 200  # stored fully qualified
    mine = react(client, alice, message["id"], "\u2764\ufe0f").get_json()["reactions"]
    assert [(r["emoji"], r["count"], r["me"]) for r in mine] == [("👍", 2, True), ("\u2764\ufe0f", 2, True)]
    response = react(client, alice, message["id"], "👍", "delete")
    assert response.status_code == 200
    assert react(client, alice, message["id"], "👍", "delete").status_code == 200
    seen = history(client, bob, cid)[0]["reactions"]
    assert [(r["emoji"], r["count"], r["me"]) for r in seen] == [("👍", 1, True), ("\u2764\ufe0f", 2, True)]
    who = client.get(f"/api/messages/{message['id']}/reactions", headers=alice.headers).get_json()["reactions"]
    assert [[u["username"] for u in r["users"]] for r in who] == [["bob"], ["bob", "alice"]]
    assert [r["me"] for r in who] == [False, True]


@pytest.mark.parametrize("emoji", ["a", "👍👍", "ab", ":thumbsup:", "<b>", "1", "\u200d", "%00"])
def test_only_one_known_emoji_is_a_reaction(client, auth, pair, emoji):
    alice, _, cid = pair
    message = auth.send(alice, cid, "hi")
    response = react(client, alice, message["id"], emoji)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"emoji": "must be a single emoji"}


def test_a_reply_quotes_the_original(client, auth, pair):
    alice, bob, cid = pair
    original = auth.send(alice, cid, "a question " + "x" * 200)
    reply = auth.send(bob, cid, "an answer", reply_to=original["id"])
    assert reply["reply_to"]["id"] == original["id"]
    assert reply["reply_to"]["sender"]["username"] == "alice"
    assert reply["reply_to"]["excerpt"].startswith("a question x") and len(reply["reply_to"]["excerpt"]) == 100
    assert history(client, alice, cid)[-1]["reply_to"] == reply["reply_to"]
    client.delete(f"/api/messages/{original['id']}", headers=alice.headers)
    quoted = history(client, alice, cid)[-1]["reply_to"]
    assert quoted["deleted"] is True and quoted["excerpt"] == "deleted" and quoted["id"] == original["id"]


def test_a_reply_must_quote_this_conversation(client, auth, pair):
    alice, bob, cid = pair
    carol = auth.user("carol")
    elsewhere = auth.send(alice, auth.befriend(alice, carol), "other room")
    for reply_to in (elsewhere["id"], elsewhere["id"] + 100, "1", 0, True):
        response = client.post(f"/api/conversations/{cid}/messages", json={"text": "re", "reply_to": reply_to},
                               headers=bob.headers)
        assert response.status_code == 422, reply_to
        assert "reply_to" in response.get_json()["error"]["fields"]
    assert history(client, bob, cid) == []


def test_changes_reach_every_member_live(client, auth, pair, connect):
    alice, bob, cid = pair
    carol = auth.user("carol")
    alice_socket, bob_socket, carol_socket = connect(alice), connect(bob), connect(carol)
    message = auth.send(alice, cid, "draft")
    client.patch(f"/api/messages/{message['id']}", json={"text": "final"}, headers=alice.headers)
    react(client, bob, message["id"], "🎉")
    client.delete(f"/api/messages/{message['id']}", headers=alice.headers)
    for sock in (alice_socket, bob_socket):
        got = [(name, payload) for name, payload in events(sock) if name != "presence"]
        names = [name for name, _ in got]
        assert names == ["message", "message_updated", "reaction", "message_deleted"], names
        updated, reaction, deleted = (payload for _, payload in got[1:])
        assert updated["id"] == message["id"] and updated["text"] == "final" and updated["edited_at"]
        assert reaction["message_id"] == message["id"] and reaction["added"] is True
        assert reaction["reactions"] == [{"emoji": "🎉", "count": 1, "user_ids": [bob.id]}]
        assert deleted == {"id": message["id"], "conversation_id": cid, "sender_id": alice.id, "deleted": True}
    assert [name for name, _ in events(carol_socket) if name != "presence"] == []


def test_socket_events_share_the_actions(auth, pair, connect, client):
    alice, bob, cid = pair
    alice_socket, bob_socket = connect(alice), connect(bob)
    sent = alice_socket.emit("send", {"conversation_id": cid, "text": "q", "client_id": "c1"}, callback=True)
    reply = bob_socket.emit("send", {"conversation_id": cid, "text": "a", "client_id": "c2",
                                     "reply_to": sent["message"]["id"]}, callback=True)
    assert reply["ok"] and reply["message"]["reply_to"]["excerpt"] == "q"
    message_id = sent["message"]["id"]
    edited = alice_socket.emit("edit", {"message_id": message_id, "text": "q2"}, callback=True)
    assert edited["ok"] and edited["message"]["text"] == "q2"
    refused = bob_socket.emit("edit", {"message_id": message_id, "text": "x"}, callback=True)
    assert refused == {"ok": False, "error": {"code": "forbidden", "message": refused["error"]["message"]}}
    reacted = bob_socket.emit("react", {"message_id": message_id, "emoji": "👍"}, callback=True)
    assert reacted["ok"] and reacted["reactions"][0]["me"] is True
    bad = bob_socket.emit("react", {"message_id": message_id, "emoji": "nope"}, callback=True)
    assert bad["ok"] is False and bad["error"]["code"] == "validation_error"
    removed = bob_socket.emit("react", {"message_id": message_id, "emoji": "👍", "remove": True}, callback=True)
    assert removed == {"ok": True, "reactions": []}
    assert alice_socket.emit("delete", {"message_id": message_id}, callback=True) == {"ok": True}
    assert history(client, bob, cid)[0]["deleted"] is True
