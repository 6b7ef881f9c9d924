"""Faults under steady traffic, with real processes: nginx, auth, three chat instances,
and a PostgreSQL cluster and a redis-server of the test's own (never the machine's
shared ones), so they can be killed.

Socket and REST senders send at a steady rate and retry a send whose answer was lost or
was 503 with the same client_id; clients are spread over the instances (WebSocket and
long-polling, through the gateway and straight to one instance) and catch up from the
database when they reconnect, when the server says `resync`, or when a message's
`previous_id` shows a gap. Each fault prints a row (`make test-faults`; also written to
test-artifacts/faults.json) and must show: nothing acknowledged lost, nothing never
delivered, nothing twice on one connection, no 5xx other than 503.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import requests

from shared.testing import PostgresCluster, RedisClusterServers, RedisServer, wait_until

from ..conftest import SUMMARY
from .chat_load import (
    PASSWORD,
    ChatClient,
    Outbox,
    RestOutbox,
    Sender,
    befriend,
    delivery_figures,
    history,
    new_user,
)

pytestmark = [pytest.mark.system, pytest.mark.faults]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = REPO_ROOT / "test-artifacts" / "faults.json"
OUTAGE = 10.0  # seconds Redis and PostgreSQL stay down
CATCH_UP_LIMIT = 5.0  # every member has every acknowledged message this soon after the fault ends
SEND_INTERVAL = 0.2
PEOPLE = ("u0", "u1", "u2", "u3")
A, B, C = 0, 1, 2  # chat instances; B is the one killed

# (client, person, instance it connects to directly or None for the gateway, transport)
LAYOUT = (
    ("u0@A", "u0", A, "websocket"),
    ("u1@B", "u1", B, "websocket"),
    ("u0@B", "u0", B, "polling"),
    ("u2@C", "u2", C, "polling"),
    ("u3@gateway-ws", "u3", None, "websocket"),
    ("u1@gateway-poll", "u1", None, "polling"),
)
# One sender per conversation (its live order is then its id order): socket and REST.
SOCKET_SENDERS = (("group", "u0@A"), ("u0-u1", "u1@B"))
REST_SENDERS = (("u2-u3", "u3@gateway-ws"), ("u1-u2", "u2@C"))

COLUMNS = ("sent", "acknowledged", "stored", "delivered_live", "delivered_by_catch_up", "never_delivered",
           "acked_but_lost", "duplicated", "out_of_order", "answered_503", "server_errors_not_503", "caught_up_s")
ROWS: dict[str, dict] = {}


@dataclass
class World:
    stack: object
    postgres: PostgresCluster | None  # None: the stack uses the shared server
    redis: RedisServer | RedisClusterServers
    users: dict[str, dict]
    conversations: dict[str, int]
    members: dict[int, set[int]]
    clients: dict[str, ChatClient] = field(default_factory=dict)

    def conversation_clients(self, conversation_id: int) -> list[ChatClient]:
        return [c for c in self.clients.values() if c.user["id"] in self.members[conversation_id]]

    def histories(self) -> dict[int, list[dict]]:
        return {conversation_id: history(self.stack.url, next(u for u in self.users.values() if u["id"] in ids),
                                         conversation_id)
                for conversation_id, ids in self.members.items()}

    def undelivered(self, acked: list[dict]) -> list[tuple[str, int]]:
        return [(c.name, m["id"]) for m in acked for c in self.conversation_clients(m["conversation_id"])
                if not c.has_seen(m)]


    def diagnosis(self, acked: list[dict]) -> str:
        return (f"missing (client, id): {self.undelivered(acked)[:20]}; "
                f"resyncs: {[(c.name, c.resyncs, len(c.links)) for c in self.clients.values()]}; "
                f"client failures: {[f for c in self.clients.values() for f in c.failures][:5]}")


@pytest.fixture(scope="module")
def world(start_stack, tmp_path_factory):
    with ExitStack() as resources:
        postgres = resources.enter_context(PostgresCluster())
        redis = resources.enter_context(RedisServer(str(tmp_path_factory.mktemp("redis"))))
        stack = resources.enter_context(start_stack(
            chat_instances=3, env={"PRESENCE_TTL": "5"}, redis_url=redis.url,
            database_urls={"auth_database_url": postgres.create_database("auth"),
                           "chat_database_url": postgres.create_database("chat")}))
        yield populate(resources, stack, postgres, redis)


def populate(resources: ExitStack, stack, postgres: PostgresCluster | None,
             redis: RedisServer | RedisClusterServers) -> World:
    """PEOPLE, all friends and in one group, with LAYOUT's clients connected (closed with `resources`)."""
    base = stack.url
    users = {name: new_user(base, name) for name in PEOPLE}
    conversations, members = {}, {}
    for left, right in itertools.combinations(PEOPLE, 2):
        conversations[f"{left}-{right}"] = befriend(base, users[left], users[right])
        members[conversations[f"{left}-{right}"]] = {users[left]["id"], users[right]["id"]}
    created = requests.post(f"{base}/api/conversations", headers=users["u0"]["headers"], timeout=10,
                            json={"title": "all", "members": [users[p]["username"] for p in PEOPLE[1:]]})
    assert created.status_code == 201, created.text
    conversations["group"] = created.json()["conversation"]["id"]
    members[conversations["group"]] = {u["id"] for u in users.values()}
    world = World(stack, postgres, redis, users, conversations, members)
    for name, person, instance, transport in LAYOUT:
        url = base if instance is None else stack.chat_urls[instance]
        client = ChatClient(name, users[person], url=url, gateway=base, transport=transport)
        resources.callback(client.close)
        world.clients[name] = client.connect()
    return world


@pytest.fixture(scope="module", autouse=True)
def fault_table(request):
    yield
    if not ROWS:
        return
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(ROWS, indent=2) + "\n")
    widths = [max(len(column), 6) for column in COLUMNS]
    lines = ["", f"fault table ({ARTIFACT.relative_to(REPO_ROOT)}):",
             f"{'fault':<22}" + " ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths))]
    for fault, row in ROWS.items():
        lines.append(f"{fault:<22}" + " ".join(f"{row[c]!s:>{w}}" for c, w in zip(COLUMNS, widths)))
    # Shown at the end of every run (CI included), not only with -s.
    request.config.stash[SUMMARY].extend(lines)


def under_traffic(world: World, name: str, fault: Callable[[list[Sender]], None]) -> dict:
    """Run `fault` while every sender sends (it may stop them); when it is over, measure how
    soon every member has every message acknowledged so far, then stop, settle and count."""
    since = time.monotonic()
    outboxes: list[Outbox] = (
        [Outbox(world.clients[c], world.conversations[conv], f"{name}-{conv}") for conv, c in SOCKET_SENDERS]
        + [RestOutbox(world.clients[c], world.conversations[conv], f"{name}-{conv}") for conv, c in REST_SENDERS])
    senders = [Sender(outbox, SEND_INTERVAL) for outbox in outboxes]
    for sender in senders:
        sender.start()
    time.sleep(2)
    fault(senders)
    ended = time.monotonic()
    acked_by_then = [m for outbox in outboxes for m in list(outbox.acked.values())]
    try:
        wait_until(lambda: not world.undelivered(acked_by_then), 30, "every member to have what was acknowledged")
    except AssertionError as error:
        raise AssertionError(f"{error}: {world.diagnosis(acked_by_then)}") from None
    caught_up = time.monotonic() - ended
    time.sleep(1)
    for sender in senders:
        sender.stop()
    wait_until(lambda: all(c.ready.is_set() for c in world.clients.values()), 35, "every client to be back")
    acked = [m for outbox in outboxes for m in outbox.acked.values()]
    try:
        wait_until(lambda: not world.undelivered(acked), 20, "every member to have every acknowledged message")
    except AssertionError as error:
        raise AssertionError(f"{error}: {world.diagnosis(acked)}") from None
    figures = delivery_figures(outboxes, list(world.clients.values()), world.members, world.histories(), since)
    row = {**figures, "answered_503": sum(o.unavailable for o in outboxes),
           "server_errors_not_503": sum(len(o.server_errors) for o in outboxes), "caught_up_s": round(caught_up, 2)}
    ROWS[name] = {column: row[column] for column in COLUMNS}
    assert [e for o in outboxes for e in o.server_errors] == []
    assert [f for o in outboxes for f in o.failures] == []
    assert [f for c in world.clients.values() for f in c.failures] == []
    assert row["acknowledged"] == row["sent"] == row["stored"] > 0, row
    assert row["acked_but_lost"] == row["never_delivered"] == row["duplicated"] == row["stored_twice"] == 0, row
    assert row["out_of_order"] == 0, row["out_of_order_examples"]
    return row


def test_redis_killed_for_10_s(world):
    def fault(senders: list[Sender]) -> None:
        world.redis.kill()
        time.sleep(OUTAGE)
        # Quiet when Redis returns: no later message can show a client its gap, so what
        # was missed arrives only because the server says `resync`.
        for sender in senders:
            sender.stop()
        world.redis.start()

    row = under_traffic(world, "redis-sigkill-10s", fault)
    assert row["caught_up_s"] <= CATCH_UP_LIMIT, row
    assert row["delivered_by_catch_up"] > 0, "the outage should have cost some live deliveries"


def test_postgresql_connections_terminated_then_server_stopped_for_10_s(world):
    def fault(_senders: list[Sender]) -> None:
        for _ in range(8):
            world.postgres.terminate_connections()
            time.sleep(0.5)
        world.postgres.stop()
        time.sleep(OUTAGE)
        world.postgres.start()

    row = under_traffic(world, "postgresql-down-10s", fault)
    assert row["answered_503"] > 0, "senders should have been told the database was unavailable"
    assert row["caught_up_s"] <= CATCH_UP_LIMIT, row


def test_one_of_three_chat_instances_sigkilled(world):
    def fault(_senders: list[Sender]) -> None:
        world.stack.stop_chat(B, signal.SIGKILL)
        time.sleep(3)
        world.stack.start_chat(B)

    under_traffic(world, "chat-instance-sigkill", fault)


def test_auth_service_killed_and_restarted(world):
    logins: list[int] = []
    stopping = threading.Event()

    def log_in_repeatedly() -> None:
        user = world.users["u0"]
        while not stopping.is_set():
            try:
                response = requests.post(f"{world.stack.url}/auth/token", timeout=5,
                                         json={"username": user["username"], "password": PASSWORD})
                logins.append(response.status_code)
            except requests.RequestException:
                logins.append(0)
            stopping.wait(0.2)

    def fault(_senders: list[Sender]) -> None:
        world.stack.stop_service("auth", signal.SIGKILL)
        time.sleep(3)
        world.stack.start_service("auth")

    prober = threading.Thread(target=log_in_repeatedly, daemon=True)
    prober.start()
    try:
        under_traffic(world, "auth-sigkill-restart", fault)
    finally:
        stopping.set()
        prober.join(timeout=10)
    assert 503 in logins and logins[-1] == 200, logins
    assert [status for status in logins if status >= 500 and status != 503] == [], logins
