"""Fan-out by recipient across three chat instances behind nginx.

Alice's socket is on instance A, Bob's on B; Carol, on C, is in none of their
conversations (and in another shard). Messages sent through the gateway reach Alice
and Bob once each; with the sharded manager C receives none of them from the queue
(its /healthz counters), with the single-channel manager it receives every one.
"""

from __future__ import annotations

import itertools

import pytest
import requests

from chat_service.realtime.rooms import user_room
from chat_service.realtime.sharded_manager import shard_of
from shared.testing import wait_until

from .chat_load import ChatClient, befriend, new_user

pytestmark = pytest.mark.system

SHARDS = 64
MESSAGES = 30
MARKER_EVENTS = 6  # at most, reaching C for carol's new friendship
A, B, C = 0, 1, 2


def queue_counters(url: str) -> dict:
    response = requests.get(f"{url}/healthz", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["queue"]


def user_in_another_shard(base: str, name: str, taken: set[int]) -> dict:
    for _ in range(20):
        user = new_user(base, name)
        if shard_of(user_room(user["id"]), SHARDS) not in taken:
            return user
    raise AssertionError("no user outside the taken shards")


@pytest.mark.parametrize("manager", ["redis", "sharded"])
def test_an_instance_hosting_nobody_of_a_conversation_receives_none_of_its_events(start_stack, manager):
    with start_stack(chat_instances=3, postgres=True, redis=True,
                     env={"SOCKETIO_MANAGER": manager, "SOCKETIO_SHARDS": str(SHARDS)}) as stack:
        base = stack.url
        alice, bob = new_user(base, "alice"), new_user(base, "bob")
        conversation_id = befriend(base, alice, bob)
        carol = user_in_another_shard(base, "carol", {shard_of(user_room(u["id"]), SHARDS) for u in (alice, bob)})
        clients = {
            "alice": ChatClient("alice", alice, url=stack.chat_urls[A], gateway=base, transport="websocket",
                                reconnect=False).connect(),
            "bob": ChatClient("bob", bob, url=stack.chat_urls[B], gateway=base, transport="websocket",
                              reconnect=False).connect(),
            "carol": ChatClient("carol", carol, url=stack.chat_urls[C], gateway=base, transport="websocket",
                                reconnect=False).connect(),
        }
        try:
            assert queue_counters(stack.chat_urls[C])["manager"] == manager
            before = queue_counters(stack.chat_urls[C])
            sent = []
            with requests.Session() as http:
                for number in range(MESSAGES):
                    response = http.post(f"{base}/api/conversations/{conversation_id}/messages",
                                         json={"text": f"m{number}", "client_id": f"fanout-{number}"},
                                         headers=alice["headers"], timeout=10)
                    assert response.status_code == 201, response.text
                    sent.append(response.json()["message"]["id"])
            for name in ("alice", "bob"):
                wait_until(lambda: set(sent) <= clients[name].live_ids(), 30, f"{name} to receive every message")
            # The events travel on one connection per channel: the last one arriving means the
            # others have too, on every instance that subscribed.
            for name in ("alice", "bob"):
                live = [m["id"] for link in clients[name].links for m in link.messages]
                assert sorted(live) == sorted(sent), f"{name} got a message twice or missed one"
            assert clients["carol"].live_ids() == set()
            # A marker after the messages: carol's new friendship, whose events reach instance C
            # on the same subscription, after anything published before them.
            befriend(base, carol, new_user(base, "dave"))
            wait_until(lambda: queue_counters(stack.chat_urls[C])["delivered"] > before["delivered"], 30,
                       "carol's friendship events to reach instance C")
            after = queue_counters(stack.chat_urls[C])
            received = after["received"] - before["received"]
            if manager == "redis":
                assert received >= MESSAGES, (before, after)
            else:
                # Only the marker's few events (carol's own and the cache's invalidations).
                assert received <= MARKER_EVENTS, (before, after)
                assert after["undeliverable"] - before["undeliverable"] <= 2, (before, after)
        finally:
            for client in clients.values():
                client.close()
