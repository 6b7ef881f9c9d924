"""Group changes across three chat instances behind nginx (PostgreSQL, Redis).

A member removed through one instance, connected to another, stops receiving at once:
nothing sent after the removal (through any instance) reaches his socket, his sends and
typing are refused on the instance he is connected to, and his history ends with the line
saying he was removed. The system lines are seen live by the members on every instance
and are in the history like any message.
"""

from __future__ import annotations

import pytest
import requests

from shared.testing import wait_until

from .chat_load import ChatClient, befriend, history, new_user

pytestmark = pytest.mark.system

A, B, C = 0, 1, 2  # chat instances


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True) as running:
        yield running


def listen(client: ChatClient, *names: str) -> ChatClient:
    """Record these events too (the load client records only presence and typing)."""
    for name in names:
        client.link.sio.on(name, lambda data, name=name: client._on_event(name, data))
    return client


def texts(client: ChatClient, conversation_id: int) -> list[str]:
    return [text for _, text in client.live(conversation_id)]


def test_a_removed_member_on_another_instance_stops_receiving_at_once(stack):
    base = stack.url
    alice, bob, carol = (new_user(base, name) for name in ("alice", "bob", "carol"))
    direct = befriend(base, alice, bob)
    befriend(base, alice, carol)
    created = requests.post(f"{base}/api/conversations", headers=alice["headers"], timeout=10,
                            json={"title": "Trip", "members": [bob["username"], carol["username"]]})
    assert created.status_code == 201, created.text
    group = created.json()["conversation"]["id"]

    clients = {
        "alice": ChatClient("alice@A", alice, url=stack.chat_urls[A], gateway=base, transport="websocket"),
        "carol": ChatClient("carol@B", carol, url=stack.chat_urls[B], gateway=base, transport="websocket"),
        "bob": ChatClient("bob@C", bob, url=stack.chat_urls[C], gateway=base, transport="polling"),
    }
    try:
        for client in clients.values():
            listen(client.connect(), "conversation_updated")
        # Every instance has the group's members in its lookup cache: each sends once.
        for name in ("alice", "carol", "bob"):
            ack = clients[name].call("send", {"conversation_id": group, "text": f"hi from {name}",
                                              "client_id": f"warm-{name}"})
            assert ack["ok"], ack
        wait_until(lambda: all(len(texts(c, group)) == 3 for c in clients.values()), 15,
                   "every member to have the three greetings")

        removed = requests.delete(f"{stack.chat_urls[A]}/api/conversations/{group}/members/{bob['username']}",
                                  headers=alice["headers"], timeout=10)
        assert removed.status_code == 204, removed.text
        line = f"{alice['username']} removed {bob['username']}"
        # Seen live on every instance, by the removed member too, as the last thing he gets.
        wait_until(lambda: all(texts(c, group)[-1:] == [line] for c in clients.values()), 15,
                   "every member to see the removal line")
        wait_until(lambda: clients["bob"].events_named("conversation_updated")
                   and clients["carol"].events_named("conversation_updated"), 15, "the membership change")
        assert clients["bob"].events_named("conversation_updated")[-1]["membership"] == "removed"
        assert bob["id"] not in {m["id"] for m in clients["carol"].events_named("conversation_updated")[-1]["members"]}

        # On bob's own instance he can no longer post or type.
        refused = clients["bob"].call("send", {"conversation_id": group, "text": "still here?", "client_id": "late"})
        assert refused["error"]["code"] == "forbidden", refused
        assert clients["bob"].call("typing", {"conversation_id": group})["error"]["code"] == "forbidden"

        # What follows, through every instance and the gateway, never reaches him.
        for name in ("carol", "alice"):
            assert clients[name].call("send", {"conversation_id": group, "text": f"after from {name}",
                                               "client_id": f"after-{name}"})["ok"]
        assert clients["carol"].call("typing", {"conversation_id": group}) == {"ok": True}
        renamed = requests.patch(f"{base}/api/conversations/{group}", json={"title": "Ski trip"},
                                 headers=carol["headers"], timeout=10)
        assert renamed.status_code == 200, renamed.text
        rename_line = f"{carol['username']} renamed the group to “Ski trip”"
        wait_until(lambda: texts(clients["alice"], group)[-1:] == [rename_line], 15, "alice to see the rename")
        assert clients["alice"].call("send", {"conversation_id": group, "text": "last", "client_id": "last"})["ok"]
        # A barrier: every instance delivers the one Redis channel in order, so once bob has a
        # direct message sent after all that, whatever of it was going to reach him has.
        assert clients["alice"].call("send", {"conversation_id": direct, "text": "barrier", "client_id": "b"})["ok"]
        wait_until(lambda: texts(clients["bob"], direct)[-1:] == ["barrier"], 15, "bob to get the direct message")
        wait_until(lambda: texts(clients["carol"], group)[-1:] == ["last"], 15, "carol to see the last message")
        assert texts(clients["bob"], group)[-1] == line
        assert not [e for e in clients["bob"].events_named("typing") if e["conversation_id"] == group]

        # History: the system lines are there for members; bob's ends with his removal.
        members_view = [m["text"] for m in history(base, carol, group)]
        assert members_view[-4:] == ["after from carol", "after from alice", rename_line, "last"]
        assert line in members_view
        bob_view = history(base, bob, group)
        assert [m["text"] for m in bob_view][-1] == line and bob_view[-1]["kind"] == "system"
        assert bob_view[-1]["data"]["action"] == "removed"
        conversation = requests.get(f"{base}/api/conversations/{group}", headers=bob["headers"], timeout=10).json()
        assert conversation["conversation"]["title"] == "Trip" and conversation["conversation"]["read_only"]
    finally:
        for client in clients.values():
            client.close()
