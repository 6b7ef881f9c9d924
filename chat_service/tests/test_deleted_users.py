"""Accounts deleted in auth: friendships go, messages stay under "Deleted user"."""

from __future__ import annotations

import secrets

import pytest
import redis

from chat_service.realtime.deleted_accounts import DeletedAccounts
from chat_service.state import EXTENSION
from shared.account_deletions import AccountDeletions
from shared.testing import require_redis


@pytest.fixture
def deletions():
    url = require_redis()
    client = redis.Redis.from_url(url)
    deletions = AccountDeletions(client, f"chat-test-{secrets.token_hex(4)}")
    yield deletions
    for key in client.scan_iter(f"{deletions.prefix}:*"):
        client.delete(key)
    client.close()


def apply_deletion(app, deletions: AccountDeletions, user_id: int) -> None:
    """As auth does it (record and announce), then as a chat instance's maintenance pass applies it."""
    deletions.announce(user_id)
    DeletedAccounts(app, app.extensions[EXTENSION].database, deletions).apply_pending()
    assert deletions.pending() == []


def test_a_deleted_user_leaves_friend_lists_and_their_messages_show_deleted_user(app, client, auth, socketio,
                                                                                 deletions):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id = auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    auth.send(alice, conversation_id, "hi bob")
    bob_socket = socketio.test_client(app, auth={"token": bob.token})
    bob_socket.get_received()

    apply_deletion(app, deletions, alice.id)

    removed = [event["args"][0] for event in bob_socket.get_received() if event["name"] == "friend_removed"]
    assert removed == [{"friend": {"id": alice.id, "username": "Deleted user", "created_at": alice.created_at,
                                   "avatar_url": None, "deleted": True}}]
    bob_socket.disconnect()
    for friend in (bob, carol):
        assert client.get("/api/friends", headers=friend.headers).get_json()["friends"] == []
    messages = client.get(f"/api/conversations/{conversation_id}/messages", headers=bob.headers).get_json()["messages"]
    assert [(m["text"], m["sender"]["username"], m["sender_deleted"]) for m in messages] == \
        [("hi bob", "Deleted user", True)]
    # The direct conversation is read-only now.
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "still there?"},
                           headers=bob.headers)
    assert response.status_code == 403
    # Nobody finds them by their old name any more, here or (after the fake's answer) in auth.
    auth.fake_auth.users.pop("alice")
    assert client.post("/api/friend-requests", json={"username": "alice"}, headers=bob.headers).status_code == 404


def test_pending_friend_requests_of_a_deleted_user_go(app, client, auth, socketio, deletions):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    to_bob = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    from_carol = client.post("/api/friend-requests", json={"username": "alice"}, headers=carol.headers)
    assert (to_bob.status_code, from_carol.status_code) == (201, 201)
    sockets = {user.id: socketio.test_client(app, auth={"token": user.token}) for user in (bob, carol)}
    for socket in sockets.values():
        socket.get_received()

    apply_deletion(app, deletions, alice.id)

    # Both pages drop the request at once: its recipient's incoming list, its sender's outgoing one.
    for user, request in ((bob, to_bob), (carol, from_carol)):
        cancelled = [event["args"][0] for event in sockets[user.id].get_received()
                     if event["name"] == "friend_request_cancelled"]
        assert cancelled == [{"id": request.get_json()["request"]["id"]}]
        sockets[user.id].disconnect()
    assert client.get("/api/friend-requests?direction=incoming", headers=bob.headers).get_json()["requests"] == []
    assert client.get("/api/friend-requests?direction=outgoing", headers=carol.headers).get_json()["requests"] == []


def test_applying_a_deletion_again_or_for_a_stranger_changes_nothing(app, client, auth, deletions):
    alice, bob = auth.user("alice"), auth.user("bob")
    auth.befriend(alice, bob)
    apply_deletion(app, deletions, alice.id)
    apply_deletion(app, deletions, alice.id)
    apply_deletion(app, deletions, 987654)  # never used chat
    assert client.get("/api/friends", headers=bob.headers).get_json()["friends"] == []


def test_a_malformed_announcement_is_ignored(deletions):
    assert deletions.deleted_user_id(b"not json") is None
    assert deletions.deleted_user_id(b'{"user_id": "7"}') is None
    assert deletions.deleted_user_id(b'{"user_id": 7}') == 7


def test_system_lines_name_a_deleted_user_deleted_user(app, client, auth, deletions):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    gid = client.post("/api/conversations", json={"title": "Trip", "members": ["bob", "carol"]},
                      headers=alice.headers).get_json()["conversation"]["id"]
    assert client.delete(f"/api/conversations/{gid}/members/carol", headers=alice.headers).status_code == 204
    assert client.post(f"/api/conversations/{gid}/members", json={"members": ["carol"]},
                       headers=alice.headers).status_code == 200
    assert client.delete(f"/api/conversations/{gid}/members/alice", headers=alice.headers).status_code == 204

    def lines():
        messages = client.get(f"/api/conversations/{gid}/messages", headers=bob.headers).get_json()["messages"]
        return [(m["text"], [u["username"] for u in m["data"].get("users", []) + m["data"].get("admins", [])])
                for m in messages if m["kind"] == "system"]

    assert lines() == [("alice removed carol", ["carol"]), ("alice added carol", ["carol"]),
                       ("alice left; bob is now an admin", ["alice", "bob"])]

    apply_deletion(app, deletions, carol.id)
    apply_deletion(app, deletions, alice.id)

    assert lines() == [("Deleted user removed Deleted user", ["Deleted user"]),
                       ("Deleted user added Deleted user", ["Deleted user"]),
                       ("Deleted user left; bob is now an admin", ["Deleted user", "bob"])]
    conversations = client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]
    preview = next(c["last_message"] for c in conversations if c["id"] == gid)
    assert preview["text"] == "Deleted user left; bob is now an admin"
    assert preview["data"]["users"][0] == {"id": alice.id, "username": "Deleted user", "created_at": alice.created_at,
                                           "avatar_url": None, "deleted": True}
