"""Edits, deletions and reactions across three chat instances behind nginx (PostgreSQL, Redis).

Members connected to other instances than the one a change was made on see it live, and a
member who was away gets the current state (edited text, tombstone, reaction counts) from
history after reconnecting.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest
import requests
import socketio

from shared.testing import wait_until

from .chat_load import befriend, history, new_user

pytestmark = pytest.mark.system


class Listener:
    """A Socket.IO connection that records every change event it gets."""

    NAMES = ("message", "message_updated", "message_deleted", "reaction")

    def __init__(self, url: str, user: dict) -> None:
        self.events: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        for name in self.NAMES:
            self.sio.on(name, lambda data, name=name: self._record(name, data))
        self.sio.connect(url, transports=["websocket"], auth={"token": user["token"]}, wait_timeout=10)

    def _record(self, name: str, data: dict) -> None:
        with self._lock:
            self.events.append((name, data))

    def got(self, name: str, **match) -> bool:
        with self._lock:
            return any(n == name and all(data.get(k) == v for k, v in match.items()) for n, data in self.events)

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True) as running:
        yield running


def call(method: str, url: str, user: dict, **kwargs) -> requests.Response:
    return requests.request(method, url, headers=user["headers"], timeout=10, **kwargs)


def test_changes_are_seen_live_on_other_instances_and_after_a_reconnect(stack):
    base = stack.url
    instance_a, instance_b, instance_c = stack.chat_urls
    alice, bob, carol = (new_user(base, name) for name in ("alice", "bob", "carol"))
    befriend(base, alice, bob)
    befriend(base, alice, carol)
    created = call("POST", f"{base}/api/conversations", alice,
                   json={"title": "three", "members": [bob["username"], carol["username"]]})
    assert created.status_code == 201, created.text
    group = created.json()["conversation"]["id"]
    bob_live, carol_live = Listener(instance_b, bob), Listener(instance_c, carol)
    try:
        def send(text: str, **body) -> dict:
            response = call("POST", f"{instance_a}/api/conversations/{group}/messages", alice,
                            json={"text": text, **body})
            assert response.status_code == 201, response.text
            return response.json()["message"]

        first = send("frist")
        wait_until(lambda: bob_live.got("message", id=first["id"]) and carol_live.got("message", id=first["id"]),
                   15, "the message on instances B and C")

        # Changes made on instance A (edit, delete) and B (reaction) reach B and C live.
        edited = call("PATCH", f"{instance_a}/api/messages/{first['id']}", alice, json={"text": "first"})
        assert edited.status_code == 200, edited.text
        reacted = call("PUT", f"{instance_b}/api/messages/{first['id']}/reactions/{quote('👍')}", bob)
        assert reacted.status_code == 200, reacted.text
        doomed = send("oops")
        assert call("DELETE", f"{instance_a}/api/messages/{doomed['id']}", alice).status_code == 204
        for listener in (bob_live, carol_live):
            wait_until(lambda: listener.got("message_updated", id=first["id"], text="first")
                       and listener.got("reaction", message_id=first["id"], emoji="👍", added=True)
                       and listener.got("message_deleted", id=doomed["id"]), 15, "the changes on B and C")

        # Carol goes away; meanwhile the message is edited again, reacted to, and a reply's
        # original is deleted. Back (through the gateway), history shows the current state.
        kept = send("kept")
        wait_until(lambda: carol_live.got("message", id=kept["id"]), 15, "the message on C")
        carol_live.close()
        reply = send("see above", reply_to=first["id"])
        assert call("PATCH", f"{base}/api/messages/{kept['id']}", alice, json={"text": "kept, edited"}).status_code == 200
        assert call("PUT", f"{base}/api/messages/{kept['id']}/reactions/{quote('❤️')}", bob).status_code == 200
        assert call("PATCH", f"{base}/api/messages/{first['id']}", alice, json={"text": "first!"}).status_code == 200
        assert call("PUT", f"{base}/api/messages/{first['id']}/reactions/{quote('🎉')}", alice).status_code == 200
        assert call("DELETE", f"{base}/api/messages/{first['id']}/reactions/{quote('👍')}", bob).status_code == 200
        assert call("PUT", f"{base}/api/messages/{first['id']}/reactions/{quote('🎉')}", carol).status_code == 200
        assert call("DELETE", f"{base}/api/messages/{first['id']}", alice).status_code == 204
        carol_live = Listener(base, carol)
        state = {m["id"]: m for m in history(base, carol, group, after=first["id"] - 1)}
        assert state[first["id"]]["deleted"] is True and state[first["id"]]["text"] == ""
        assert state[first["id"]]["reactions"] == []
        assert state[doomed["id"]]["deleted"] is True
        assert state[kept["id"]]["text"] == "kept, edited" and state[kept["id"]]["edited_at"]
        assert state[kept["id"]]["reactions"] == [{"emoji": "❤️", "count": 1, "user_ids": [bob["id"]], "me": False}]
        assert state[reply["id"]]["reply_to"] == {"id": first["id"], "sender": state[first["id"]]["sender"],
                                                  "excerpt": "deleted", "deleted": True}
        conversations = call("GET", f"{base}/api/conversations", carol).json()["conversations"]
        assert next(c for c in conversations if c["id"] == group)["last_message"]["id"] == reply["id"]

        # Her own reaction, made on instance C, counts as hers and reaches bob on B.
        assert call("PUT", f"{instance_c}/api/messages/{reply['id']}/reactions/{quote('🎉')}", carol).status_code == 200
        seen = {m["id"]: m for m in history(base, carol, group, after=reply["id"] - 1)}
        assert seen[reply["id"]]["reactions"] == [{"emoji": "🎉", "count": 1, "user_ids": [carol["id"]], "me": True}]
        wait_until(lambda: bob_live.got("reaction", message_id=reply["id"], emoji="🎉"), 15, "carol's reaction on B")
    finally:
        bob_live.close()
        carol_live.close()
