"""The scaled deployment end to end: three chat instances behind nginx, PostgreSQL and Redis.

Six people (all friends, one group, direct conversations) chat from clients spread
over the instances: WebSocket and long-polling through the gateway, and connections
straight to one instance's port. While senders send at a steady rate, one instance
is killed with SIGKILL, then every instance is restarted in turn. Clients reconnect
through the gateway and catch up with after=<last id>, and senders retry a send whose
ack was lost with the same client_id. Nothing acknowledged may be lost, nothing may
arrive twice on one connection, and the killed instance's presence must go away.

Figures (sent, acknowledged, delivered, lost, duplicated, reconnect times) are printed
(`pytest -s`) and written to test-artifacts/scaled-topology.json.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from shared.testing import wait_until

from .chat_load import (
    ChatClient,
    Outbox,
    Sender,
    befriend,
    delivery_figures,
    history,
    new_user,
    seconds_summary,
)

pytestmark = pytest.mark.system

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = REPO_ROOT / "test-artifacts" / "scaled-topology.json"
PRESENCE_TTL = 5
REAP_INTERVAL = PRESENCE_TTL / 3  # chat_service's maintenance pass: min(5 s, PRESENCE_TTL / 3)
SEND_INTERVAL = 0.15  # per sender; five senders
BURST = 30  # messages fired at once just before the kill
PEOPLE = ("u0", "u1", "u2", "u3", "u4", "u5")
A, B, C = 0, 1, 2  # chat instances

# (client, person, instance it connects to directly or None for the gateway, transport), in connect order.
LAYOUT = (
    ("u3@C", "u3", C, "websocket"),
    ("u4@A", "u4", A, "websocket"),
    ("u2@B", "u2", B, "websocket"),
    ("u0@B", "u0", B, "polling"),
    ("u0@gateway-ws", "u0", None, "websocket"),
    ("u1@gateway-poll", "u1", None, "polling"),
    ("u5@gateway-ws", "u5", None, "websocket"),
    ("u5@gateway-poll", "u5", None, "polling"),
)
# Under steady traffic: one sender per conversation (a conversation's live order is then
# its id order), two of them on instance B, the one that gets killed.
SENDERS = (("group", "u2@B"), ("u0-u1", "u1@gateway-poll"), ("u2-u3", "u3@C"), ("u4-u5", "u5@gateway-ws"),
           ("u0-u4", "u0@B"))

FIGURES: dict = {}


@dataclass
class World:
    stack: object
    users: dict[str, dict]
    conversations: dict[str, int]  # name -> id ("group", "u0-u1", ...)
    members: dict[int, set[int]]  # conversation id -> user ids
    clients: dict[str, ChatClient] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.stack.url

    def conversation_clients(self, conversation_id: int) -> list[ChatClient]:
        return [c for c in self.clients.values() if c.user["id"] in self.members[conversation_id]]

    def histories(self) -> dict[int, list[dict]]:
        histories = {}
        for conversation_id, member_ids in self.members.items():
            reader = next(u for u in self.users.values() if u["id"] in member_ids)
            histories[conversation_id] = history(self.base, reader, conversation_id)
        return histories

    def barrier(self, sender: str, conversation: str, text: str) -> dict:
        """Send a message and wait until every member's client has it: events published
        before it (same Redis channel, same connection) have arrived by then too."""
        conversation_id = self.conversations[conversation]
        ack = self.clients[sender].call("send", {"conversation_id": conversation_id, "text": text,
                                                 "client_id": f"barrier-{time.monotonic_ns()}"})
        assert ack["ok"], ack
        wait_until(lambda: all(c.has_seen(ack["message"]) for c in self.conversation_clients(conversation_id)),
                   15, f"every member to receive {text!r}")
        return ack["message"]

    def wait_all_ready(self, timeout: float = 35) -> float:
        try:
            return wait_until(lambda: all(c.ready.is_set() for c in self.clients.values()), timeout,
                              "every client to reconnect and catch up")
        except AssertionError as error:
            # Name the clients still away and why, so a slow reconnect can be told from a lost one.
            away = [(c.name, [link.url for link in c.links][-3:], c.trace[-12:]) for c in self.clients.values()
                    if not c.ready.is_set()]
            raise AssertionError(f"{error}: still away {away}; failures {self.failures()}") from None

    def failures(self) -> list[str]:
        return [f for c in self.clients.values() for f in c.failures]


@pytest.fixture(scope="module")
def scaled_stack(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True,
                     env={"PRESENCE_TTL": str(PRESENCE_TTL)}) as stack:
        yield stack


@pytest.fixture(scope="module", autouse=True)
def figures_report():
    yield
    if not FIGURES:
        return
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(FIGURES, indent=2) + "\n")
    print(f"\nscaled topology figures ({ARTIFACT.relative_to(REPO_ROOT)}):")
    for run, figures in FIGURES.items():
        print(f"  {run}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


@pytest.fixture(scope="module")
def world(scaled_stack):
    base = scaled_stack.url
    users = {name: new_user(base, name) for name in (*PEOPLE, "ghost")}
    conversations = {}
    members = {}
    for left, right in itertools.combinations(PEOPLE, 2):
        conversation_id = befriend(base, users[left], users[right])
        conversations[f"{left}-{right}"] = conversation_id
        members[conversation_id] = {users[left]["id"], users[right]["id"]}
    for friend in ("u3", "u4"):
        befriend(base, users["ghost"], users[friend])  # the ghost's direct conversations stay empty
    created = requests.post(f"{base}/api/conversations", headers=users["u0"]["headers"], timeout=10,
                            json={"title": "everyone", "members": [users[p]["username"] for p in PEOPLE[1:]]})
    assert created.status_code == 201, created.text
    group = created.json()["conversation"]
    assert {m["id"] for m in group["members"]} == {users[p]["id"] for p in PEOPLE}
    conversations["group"] = group["id"]
    members[group["id"]] = {users[p]["id"] for p in PEOPLE}

    world = World(scaled_stack, users, conversations, members)
    try:
        for name, person, instance, transport in LAYOUT:
            url = base if instance is None else scaled_stack.chat_urls[instance]
            world.clients[name] = ChatClient(name, users[person], url=url, gateway=base,
                                             transport=transport).connect()
        for client in world.clients.values():
            assert client.link.sio.transport() == client.transport
        world.barrier("u4@A", "group", "everyone is here")
        yield world
    finally:
        for client in world.clients.values():
            client.close()


def test_presence_and_typing_cross_instances(world):
    users, clients = world.users, world.clients
    on_c = clients["u3@C"]  # the first to connect: heard every later arrival
    announced = on_c.events_named("presence")
    # u4 connected on instance A and was announced to its friend on C; each person once,
    # however many connections they opened (u0 and u5 have two).
    assert {"user_id": users["u4"]["id"], "online": True} in announced
    for person in ("u0", "u1", "u2", "u4", "u5"):
        assert announced.count({"user_id": users[person]["id"], "online": True}) == 1, (person, announced)
    assert not [e for e in announced if not e["online"]], announced
    friends = requests.get(f"{world.stack.chat_urls[C]}/api/friends", headers=users["u3"]["headers"], timeout=10)
    online = {f["username"]: f["online"] for f in friends.json()["friends"]}
    assert online == {**{users[p]["username"]: True for p in PEOPLE if p != "u3"},
                      users["ghost"]["username"]: False}

    # Typing on B in the u2-u3 conversation reaches u3 on C, and nobody else.
    direct = world.conversations["u2-u3"]
    assert clients["u2@B"].call("typing", {"conversation_id": direct}) == {"ok": True}
    world.barrier("u4@A", "group", "after typing in u2-u3")
    for client in clients.values():
        typing = client.events_named("typing")
        if client.name == "u3@C":
            assert [(t["conversation_id"], t["user"]["id"]) for t in typing] == [(direct, users["u2"]["id"])]
        else:
            assert typing == [], (client.name, typing)

    # Typing on B in the group reaches every other member's connection once, wherever it is.
    group = world.conversations["group"]
    assert clients["u2@B"].call("typing", {"conversation_id": group}) == {"ok": True}
    world.barrier("u4@A", "group", "after typing in the group")
    for client in clients.values():
        in_group = [t["user"]["id"] for t in client.events_named("typing") if t["conversation_id"] == group]
        assert in_group == ([] if client.name == "u2@B" else [users["u2"]["id"]]), (client.name, in_group)


def test_every_message_reaches_every_connection_once_and_in_order(world):
    clients = list(world.clients.values())
    sent = 0
    for round_number in range(6):
        for name, conversation_id in world.conversations.items():
            if name not in dict(SENDERS):
                continue
            speakers = world.conversation_clients(conversation_id)
            speaker = speakers[round_number % len(speakers)]
            ack = speaker.call("send", {"conversation_id": conversation_id, "text": f"{name} round {round_number}",
                                        "client_id": f"in-order-{name}-{round_number}"})
            assert ack["ok"] and ack["created"], ack
            sent += 1
    for name in ("group", "u0-u1"):  # the HTTP API's sends reach sockets too
        posted = requests.post(f"{world.base}/api/conversations/{world.conversations[name]}/messages",
                               json={"text": f"{name} over http", "client_id": f"in-order-{name}-http"},
                               headers=world.users["u0"]["headers"], timeout=10)
        assert posted.status_code == 201, posted.text
        sent += 1

    histories = world.histories()
    every = [(m, c) for cid, messages in histories.items() for m in messages for c in world.conversation_clients(cid)]
    wait_until(lambda: all(c.has_seen(m) for m, c in every), 15, "every member to receive every message")
    for client in clients:
        assert len(client.links) == 1, f"{client.name} reconnected: the comparison below needs one connection"
        for conversation_id, messages in histories.items():
            if client.user["id"] in world.members[conversation_id]:
                assert client.live(conversation_id) == [(m["id"], m["text"]) for m in messages], \
                    (client.name, conversation_id)
    delivered = sum(len(link.messages) for c in clients for link in c.links)
    assert delivered == len(every)

    # Long-polling through the gateway kept each connection on one instance: the
    # client carries nginx's `route` cookie in its HTTP session.
    access_log = Path(world.stack.log_dir, "nginx-access.log")
    for client in clients:
        if client.transport == "polling" and client.url == world.base:
            assert client.http.cookies.get("route"), client.name
            sid = client.link.sio.eio.sid
            wait_until(lambda: logged_upstreams(access_log, sid), 5, f"nginx to log {client.name}'s polling")
            assert len(logged_upstreams(access_log, sid)) == 1, (client.name, logged_upstreams(access_log, sid))

    stored = [m for messages in histories.values() for m in messages if m["client_id"].startswith("in-order-")]
    FIGURES["in_order"] = {"sent": sent, "acknowledged": sent, "stored": len(stored),
                           "delivered": delivered, "lost": len(every) - delivered, "duplicated": 0}


def logged_upstreams(access_log: Path, sid: str) -> set[str]:
    """The chat instances nginx sent the requests of one Engine.IO session to."""
    return {json.loads(line)["upstream"] for line in access_log.read_text().splitlines() if f"sid={sid}" in line}


def start_senders(world: World, tag: str) -> list[Sender]:
    senders = [Sender(Outbox(world.clients[client], world.conversations[conversation], f"{tag}-{conversation}"),
                      SEND_INTERVAL) for conversation, client in SENDERS]
    for sender in senders:
        sender.start()
    return senders


def settle_and_count(world: World, senders: list[Sender], since: float, bursts: tuple[Outbox, ...] = ()) -> dict:
    """Stop sending, wait until every client is back and has everything, return the figures."""
    for sender in senders:
        sender.stop()
    world.wait_all_ready()
    for burst in bursts:
        burst.finish()
    outboxes = [sender.outbox for sender in senders] + list(bursts)
    acked = [m for outbox in outboxes for m in outbox.acked.values()]

    def missing() -> list[tuple[str, int, str]]:
        return [(c.name, m["id"], m["client_id"]) for m in acked
                for c in world.conversation_clients(m["conversation_id"]) if not c.has_seen(m)]

    try:
        wait_until(lambda: not missing(), 20, "every member to have every acknowledged message")
    except AssertionError as error:
        raise AssertionError(f"{error}; missing (client, id, client_id): {missing()[:20]}; "
                             f"links: {[(c.name, [l.url for l in c.links]) for c in world.clients.values()]}"
                             ) from None
    figures = delivery_figures(outboxes, list(world.clients.values()), world.members, world.histories(), since)
    assert [f for outbox in outboxes for f in outbox.failures] == []
    assert world.failures() == []
    return figures


def assert_nothing_lost(figures: dict) -> None:
    assert figures["acknowledged"] == figures["sent"] > 0, figures
    assert figures["stored"] == figures["acknowledged"], figures
    assert figures["stored_twice"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated"] == 0, figures
    assert figures["out_of_order"] == 0, figures


def test_kill_9_loses_nothing_and_its_presence_goes_away(world):
    stack, users = world.stack, world.users
    on_c = world.clients["u3@C"]
    ghost_id = users["ghost"]["id"]
    ghost = ChatClient("ghost@B", users["ghost"], url=stack.chat_urls[B], gateway=world.base,
                       transport="websocket", reconnect=False).connect()
    wait_until(lambda: {"user_id": ghost_id, "online": True} in on_c.events_named("presence"), 10,
               "the ghost to come online")

    senders = start_senders(world, "kill")
    # u2 on B also fires a burst without waiting for acks just before B dies: some are
    # stored but never acknowledged, and their retries must neither store nor deliver them twice.
    burst = Outbox(world.clients["u2@B"], world.conversations["u1-u2"], "kill-burst")
    since = time.monotonic()
    try:
        time.sleep(2.0)
        burst.fire(BURST)
        # Kill B as soon as it acknowledges the first of them: others are committed or under way.
        assert burst.first_ack.wait(10), "B did not acknowledge the burst"
        killed_at = time.monotonic()
        stack.stop_chat(B, signal.SIGKILL)

        # Its presence: gone from /api/friends once the heartbeat key expires, and announced
        # offline by a survivor's next maintenance pass.
        rest_offline_after = event_offline_after = None
        deadline = killed_at + PRESENCE_TTL + REAP_INTERVAL + 5
        while (rest_offline_after is None or event_offline_after is None) and time.monotonic() < deadline:
            if rest_offline_after is None:
                friends = requests.get(f"{stack.chat_urls[C]}/api/friends", headers=users["u3"]["headers"],
                                       timeout=5).json()["friends"]
                if not next(f["online"] for f in friends if f["id"] == ghost_id):
                    rest_offline_after = time.monotonic() - killed_at
            if event_offline_after is None:
                offline = [t for t, name, data in list(on_c.events)
                           if name == "presence" and data == {"user_id": ghost_id, "online": False}]
                if offline:
                    event_offline_after = offline[0] - killed_at
            time.sleep(0.1)
        time.sleep(max(0.0, killed_at + 6 - time.monotonic()))  # keep sending while B's clients come back
        figures = settle_and_count(world, senders, since, bursts=(burst,))
    finally:
        for sender in senders:
            sender.stopping.set()
        ghost.close()
    figures["burst_retries"] = burst.attempts - BURST

    figures["ghost_offline_in_friends_s"] = rest_offline_after and round(rest_offline_after, 2)
    figures["ghost_offline_event_s"] = event_offline_after and round(event_offline_after, 2)
    FIGURES["kill_9"] = figures
    stack.start_chat(B)

    assert_nothing_lost(figures)
    for name in ("u2@B", "u0@B"):  # B's clients moved to the gateway and caught up
        client = world.clients[name]
        assert client.reconnects and client.link.url == world.base, (name, client.reconnects)
    assert rest_offline_after is not None and rest_offline_after <= PRESENCE_TTL + 1, figures
    assert event_offline_after is not None and event_offline_after <= PRESENCE_TTL + REAP_INTERVAL + 2, figures


def presence_seen(client: ChatClient, user_id: int, online: bool, since: float) -> bool:
    return any(t >= since and data == {"user_id": user_id, "online": online}
               for t, name, data in list(client.events) if name == "presence")


def test_a_crashed_instance_restarted_at_once_leaves_no_ghost(world):
    """A crashed instance comes back at once under the same INSTANCE_ID (a container's
    restart policy) and serves someone before its old heartbeat expired: the connections
    that died with the old process must still stop counting."""
    stack, users = world.stack, world.users
    on_c = world.clients["u3@C"]
    ghost_id = users["ghost"]["id"]
    connected_at = time.monotonic()
    ghost = ChatClient("ghost@B", users["ghost"], url=stack.chat_urls[B], gateway=world.base,
                       transport="websocket", reconnect=False).connect()
    visitor = None
    try:
        wait_until(lambda: presence_seen(on_c, ghost_id, True, connected_at), 10, "the ghost to come online")
        killed_at = time.monotonic()
        stack.stop_chat(B, signal.SIGKILL)
        stack.start_chat(B)
        visitor = ChatClient("u1@B", users["u1"], url=stack.chat_urls[B], gateway=world.base,
                             transport="websocket", reconnect=False).connect()
        wait_until(lambda: presence_seen(on_c, ghost_id, False, killed_at), PRESENCE_TTL + REAP_INTERVAL + 3,
                   "the ghost of the crashed process to be announced offline")
        friends = requests.get(f"{world.base}/api/friends", headers=users["u3"]["headers"], timeout=10).json()
        assert not next(f["online"] for f in friends["friends"] if f["id"] == ghost_id)
        world.wait_all_ready()
        assert world.failures() == []
    finally:
        ghost.close()
        if visitor is not None:
            visitor.close()


def test_rolling_restart_loses_nothing(world):
    stack, users = world.stack, world.users
    senders = start_senders(world, "roll")
    since = time.monotonic()
    restarts = []
    try:
        time.sleep(1.5)
        for instance in (A, B, C):
            started = time.monotonic()
            stack.stop_chat(instance, signal.SIGTERM)
            stack.start_chat(instance)
            world.wait_all_ready()
            restarts.append(time.monotonic() - started)
            time.sleep(1.0)
        figures = settle_and_count(world, senders, since)
    finally:
        for sender in senders:
            sender.stopping.set()
    figures["instance_restart_s"] = seconds_summary(restarts)
    FIGURES["rolling_restart"] = figures

    assert_nothing_lost(figures)
    assert figures["reconnect_seconds"]["count"] >= 3, figures  # at least the direct clients of A, B and C
    for name in ("u3@C", "u4@A", "u2@B", "u0@B"):
        assert world.clients[name].link.url == world.base, name

    # Presence is still right after the restarts: u4 leaving is announced to u3 at once.
    leaving_at = time.monotonic()
    world.clients.pop("u4@A").close()
    on_c = world.clients["u3@C"]
    wait_until(lambda: presence_seen(on_c, users["u4"]["id"], False, leaving_at), PRESENCE_TTL,
               "u4 to be announced offline")
    friends = requests.get(f"{world.base}/api/friends", headers=users["u3"]["headers"], timeout=10).json()["friends"]
    assert not next(f["online"] for f in friends if f["id"] == users["u4"]["id"])
