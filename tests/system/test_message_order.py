"""Live `message` events arrive in id order on every socket, whichever instance handled each.

Three chat instances on PostgreSQL and Redis. Two friends on two different instances send
to each other at the same time, each waiting for every ack (the browser's outbox), and ten
members of a group spread over the three instances all send at once. Each socket is read
raw, packet by packet, so the order checked is the order the server sent (python-socketio's
client hands each event to a thread of its own, which reorders them). Each socket is read by
its sender while it waits for acks, then to the end.
"""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
import requests

from shared.raw_socketio import WebSocketClient

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system

DIRECT_MESSAGES = 800  # per friend, both directions at once
GROUP_MEMBERS = 10
GROUP_MESSAGES = 40  # per member, all members at once


class OrderedSocket:
    """A raw WebSocket client that keeps the `message` events it reads, in arrival order."""

    def __init__(self, url: str, token: str) -> None:
        self.client = WebSocketClient(url, timeout=10)
        connected = self.client.connect({"token": token})
        assert connected.startswith("0{"), connected
        self.messages: list[dict] = []
        self._ack_ids = itertools.count(1)

    def _read(self, timeout: float) -> str:
        """The next event or ack; `message` events are kept on the way."""
        packet = self.client.receive(timeout, kinds="23")
        if packet.startswith("2"):
            name, *data = json.loads(packet[1:])
            if name == "message":
                self.messages.append(data[0])
        return packet

    def call(self, event: str, data: dict, timeout: float = 15) -> dict:
        ack_id = next(self._ack_ids)
        self.client.send(f"2{ack_id}" + json.dumps([event, data]))
        deadline = time.monotonic() + timeout
        while True:
            packet = self._read(max(0.0, deadline - time.monotonic()))
            if packet.startswith(f"3{ack_id}["):
                return json.loads(packet[len(f"3{ack_id}"):])[0]

    def read_until(self, conversation_id: int, count: int, timeout: float = 20) -> list[int]:
        """The ids of the conversation's live messages, once `count` have come."""
        deadline = time.monotonic() + timeout
        while len(self.ids(conversation_id)) < count:
            self._read(max(0.0, deadline - time.monotonic()))
        return self.ids(conversation_id)

    def ids(self, conversation_id: int) -> list[int]:
        return [m["id"] for m in self.messages if m["conversation_id"] == conversation_id]

    def close(self) -> None:
        self.client.close()


def inversions(ids: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in zip(ids, ids[1:]) if b <= a]


@pytest.fixture(scope="module")
def three_instances(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True) as stack:
        yield stack


def send_all(socket: OrderedSocket, conversation_id: int, tag: str, count: int, acked: list) -> None:
    for number in range(count):
        ack = socket.call("send", {"conversation_id": conversation_id, "text": f"{tag} {number}",
                                   "client_id": f"{tag}-{number}"})
        assert ack.get("ok"), ack
        acked.append(ack["message"]["id"])


def run_senders(senders: list[tuple]) -> list[int]:
    acked: list[int] = []
    threads = [threading.Thread(target=send_all, args=(*sender, acked)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    return acked


def test_two_friends_on_two_instances_see_every_message_in_id_order(three_instances):
    base = three_instances.url
    alice, bob = new_user(base, "alice"), new_user(base, "bob")
    conversation_id = befriend(base, alice, bob)
    sockets = [OrderedSocket(three_instances.chat_urls[0], alice["token"]),
               OrderedSocket(three_instances.chat_urls[1], bob["token"])]
    try:
        acked = run_senders([(sockets[0], conversation_id, f"a{time.monotonic_ns()}", DIRECT_MESSAGES),
                             (sockets[1], conversation_id, f"b{time.monotonic_ns()}", DIRECT_MESSAGES)])
        assert len(acked) == 2 * DIRECT_MESSAGES
        for socket in sockets:
            ids = socket.read_until(conversation_id, len(acked))
            assert inversions(ids) == [], f"{len(inversions(ids))} out of order of {len(ids)}"
            assert sorted(ids) == sorted(acked)
    finally:
        for socket in sockets:
            socket.close()


def test_a_group_of_ten_across_three_instances_sees_one_order(three_instances):
    base = three_instances.url
    members = [new_user(base, f"m{index}") for index in range(GROUP_MEMBERS)]
    for member in members[1:]:
        befriend(base, members[0], member)
    created = requests.post(f"{base}/api/conversations", headers=members[0]["headers"], timeout=10,
                            json={"title": "ten", "members": [m["username"] for m in members[1:]]})
    assert created.status_code == 201, created.text
    group = created.json()["conversation"]["id"]
    sockets = [OrderedSocket(three_instances.chat_urls[index % 3], member["token"])
               for index, member in enumerate(members)]
    try:
        acked = run_senders([(socket, group, f"g{index}-{time.monotonic_ns()}", GROUP_MESSAGES)
                             for index, socket in enumerate(sockets)])
        assert len(acked) == GROUP_MEMBERS * GROUP_MESSAGES
        for index, socket in enumerate(sockets):
            ids = socket.read_until(group, len(acked))
            assert inversions(ids) == [], f"member {index}: {len(inversions(ids))} out of order of {len(ids)}"
            assert sorted(ids) == sorted(acked)
    finally:
        for socket in sockets:
            socket.close()
