"""Deleting an account through the gateway, with three chat instances joined by Redis: the
friend on another instance sees the friend removed at once, the deleted user's sockets on
every instance are disconnected, the username cannot be registered again, and the messages
stay under "Deleted user"."""

from __future__ import annotations

import threading

import pytest
import requests
import socketio

from shared.testing import wait_until

from .chat_load import PASSWORD, befriend, history, new_user

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(chat_instances=3, redis=True) as stack:
        yield stack


def connect(url: str, token: str, on: dict) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    for name, handler in on.items():
        sio.on(name, handler)
    sio.connect(url, transports=["websocket"], auth={"token": token}, wait_timeout=10)
    return sio


def test_deleting_an_account_reaches_every_instance(stack):
    alice, bob = new_user(stack.url, "leaving"), new_user(stack.url, "staying")
    conversation_id = befriend(stack.url, alice, bob)
    sent = requests.post(f"{stack.url}/api/conversations/{conversation_id}/messages",
                         json={"text": "bye for now", "client_id": "c1"}, headers=alice["headers"], timeout=10)
    assert sent.status_code == 201, sent.text

    removed: list[dict] = []
    ended = threading.Event()
    bob_socket = connect(stack.chat_urls[1], bob["token"], {"friend_removed": removed.append})
    alice_sockets = [connect(url, alice["token"], {"session_ended": lambda *_: ended.set()})
                     for url in (stack.chat_urls[0], stack.chat_urls[2])]
    try:
        deleted = requests.delete(f"{stack.url}/auth/me", json={"password": PASSWORD}, headers=alice["headers"],
                                  timeout=10)
        assert deleted.status_code == 204, deleted.text

        wait_until(lambda: not any(sio.connected for sio in alice_sockets), 10,
                   "the deleted user's sockets to be disconnected")
        assert ended.is_set()
        wait_until(lambda: removed, 10, "the friend to hear of the removal")
        assert removed[0]["friend"] == {**removed[0]["friend"], "id": alice["id"], "username": "Deleted user",
                                        "deleted": True}
        assert bob_socket.connected
    finally:
        bob_socket.disconnect()
        for sio in alice_sockets:
            if sio.connected:
                sio.disconnect()

    friends = requests.get(f"{stack.url}/api/friends", headers=bob["headers"], timeout=10)
    assert friends.json()["friends"] == []
    [message] = history(stack.url, bob, conversation_id)
    assert (message["text"], message["sender"]["username"], message["sender_deleted"]) == \
        ("bye for now", "Deleted user", True)
    refused = requests.post(f"{stack.url}/api/conversations/{conversation_id}/messages",
                            json={"text": "hello?"}, headers=bob["headers"], timeout=10)
    assert refused.status_code == 403
    # Nobody can take the name to pass for them, nor find or log in as them.
    again = requests.post(f"{stack.url}/auth/register", timeout=10, json={
        "username": alice["username"].upper(), "email": "impostor@example.com", "password": PASSWORD})
    assert again.status_code == 409
    assert requests.get(f"{stack.url}/auth/users/{alice['username']}", headers=bob["headers"],
                        timeout=10).status_code == 404
    assert requests.post(f"{stack.url}/auth/token", json={"username": alice["username"], "password": PASSWORD},
                         timeout=10).status_code == 401
    assert requests.get(f"{stack.url}/api/conversations", headers=alice["headers"], timeout=10).status_code == 401


def test_without_redis_a_deletion_reaches_chat_at_once(live_stack):
    """The quick start (`make up`: SQLite, no Redis) as well: auth tells chat itself, so the deleted
    user's socket ends, their token is refused and their messages read "Deleted user"."""
    base = live_stack.url
    alice, bob = new_user(base, "quitting"), new_user(base, "remaining")
    conversation_id = befriend(base, alice, bob)
    assert requests.post(f"{base}/api/conversations/{conversation_id}/messages", json={"text": "so long"},
                         headers=alice["headers"], timeout=10).status_code == 201
    removed: list[dict] = []
    ended = threading.Event()
    bob_socket = connect(base, bob["token"], {"friend_removed": removed.append})
    alice_socket = connect(base, alice["token"], {"session_ended": lambda *_: ended.set()})
    try:
        deleted = requests.delete(f"{base}/auth/me", json={"password": PASSWORD}, headers=alice["headers"],
                                  timeout=10)
        assert deleted.status_code == 204, deleted.text
        wait_until(lambda: not alice_socket.connected, 3, "the deleted user's socket to be disconnected")
        assert ended.is_set()
        wait_until(lambda: removed, 3, "the friend to hear of the removal")
        assert (removed[0]["friend"]["username"], removed[0]["friend"]["deleted"]) == ("Deleted user", True)
    finally:
        for sio in (bob_socket, alice_socket):
            if sio.connected:
                sio.disconnect()
    assert requests.get(f"{base}/api/conversations", headers=alice["headers"], timeout=10).status_code == 401
    [message] = history(base, bob, conversation_id)
    assert (message["text"], message["sender"]["username"], message["sender_deleted"]) == \
        ("so long", "Deleted user", True)
