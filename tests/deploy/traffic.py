"""What the deployment tests share: chat clients over every replica behind the gateway, steady
traffic while something disturbs the deployment, and the delivery figures it yields. A
deployment object offers `url` (the gateway) and `gateway_problems(since)` (its error log lines)."""

from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import requests

from shared.testing import wait_until
from tests.system.chat_load import ChatClient, Outbox, Sender, befriend, delivery_figures, history, new_user

PEOPLE = 10  # five direct conversations; each person has a WebSocket and a long-polling client
SEND_INTERVAL = 0.2


def instance_of(url: str, route: str) -> str:
    """Which chat replica the gateway sends a `route` cookie to (its /healthz names it)."""
    answered = requests.get(f"{url}/api/healthz", cookies={"route": route}, timeout=10)
    assert answered.status_code == 200, answered.text
    return answered.json()["instance"]


class ErrorWatch:
    """What a user of the web page keeps doing meanwhile: list conversations every 100 ms."""

    def __init__(self, url: str, user: dict) -> None:
        self.url, self.user = url, user
        self.statuses: dict[int, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(0.1):
            try:
                status = requests.get(f"{self.url}/api/conversations", headers=self.user["headers"],
                                      timeout=10).status_code
            except requests.RequestException:
                status = 0
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def __enter__(self) -> "ErrorWatch":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=15)


@contextmanager
def chat_world(deployment, replicas: int) -> Iterator[dict]:
    """Ten people in five direct conversations, each with a WebSocket and a long-polling
    client, spread over the `replicas` chat replicas by the gateway's route cookie."""
    base = deployment.url
    users = [new_user(base, f"p{number}") for number in range(PEOPLE)]
    conversations = [befriend(base, users[i], users[i + 1]) for i in range(0, PEOPLE, 2)]
    members = {conversation: {users[2 * n]["id"], users[2 * n + 1]["id"]}
               for n, conversation in enumerate(conversations)}
    # Route cookies that the gateway sends to each replica in turn, so the 20 clients are
    # spread over all three; each cookie is asked three times: it must stay on one replica.
    routes: dict[str, list[str]] = {}
    for _ in range(200):
        route = secrets.token_hex(8)
        answers = {instance_of(deployment.url, route) for _ in range(3)}
        assert len(answers) == 1, f"route {route} answered by {answers}: long-polling is not sticky"
        routes.setdefault(answers.pop(), []).append(route)
        if len(routes) == replicas and min(map(len, routes.values())) >= 2 * PEOPLE // replicas + 1:
            break
    assert len(routes) == replicas, routes
    spread = [route for column in zip(*routes.values()) for route in column]
    clients = []
    try:
        for number, user in enumerate(users):
            for transport in ("websocket", "polling"):
                client = ChatClient(f"p{number}-{transport}", user, url=base, gateway=base, transport=transport)
                client.http.cookies.set("route", spread[len(clients)])
                clients.append(client.connect())
        for client in clients:
            assert client.link.sio.transport() == client.transport
        yield {"users": users, "conversations": conversations, "members": members, "clients": clients}
    finally:
        for client in clients:
            client.close()


def diagnosis(clients: list[ChatClient], outboxes: list[Outbox]) -> str:
    """Where each client and sender stands, so a stuck one can be told from a slow one."""
    lines = [f"{c.name}: ready={c.ready.is_set()} links={len(c.links)} closed={c.link.closed.is_set()} "
             f"reconnects={[round(r.seconds, 1) for r in c.reconnects]} failures={c.failures} trace={c.trace[-6:]}"
             for c in clients]
    lines += [f"{o.tag}: sent={len(o.sent)} acked={len(o.acked)} attempts={o.attempts} failures={o.failures}"
              for o in outboxes]
    return "\n".join(lines)


def traffic(deployment, world, figures_by_phase: dict, phase: str, disturb) -> dict:
    """Five senders (one per conversation, alternating transports) while `disturb` runs."""
    clients, members = world["clients"], world["members"]
    outboxes = [Outbox(clients[4 * n + n % 2], conversation, f"{phase}-{n}")
                for n, conversation in enumerate(world["conversations"])]
    senders = [Sender(outbox, SEND_INTERVAL) for outbox in outboxes]
    since, started_at = time.monotonic(), time.time()
    with ErrorWatch(deployment.url, world["users"][-1]) as watch:
        for sender in senders:
            sender.start()
        wait_until(lambda: all(o.first_ack.is_set() for o in outboxes), 30, "every sender's first ack")
        disturb()
        time.sleep(2)
        try:
            wait_until(lambda: all(c.ready.is_set() for c in clients), 60, "every client to reconnect and catch up")
            for sender in senders:
                sender.stop()
        except AssertionError as error:
            raise AssertionError(f"{error}: {diagnosis(clients, outboxes)}\n"
                                 f"gateway: {deployment.gateway_problems(started_at - 1)}") from None
    for outbox in outboxes:
        assert not outbox.failures, outbox.failures
    # Everything acknowledged reaches every member's clients, live or in the catch-up.
    wait_until(lambda: all(c.has_seen(m) for o in outboxes for m in o.acked.values()
                           for c in clients if c.user["id"] in members[m["conversation_id"]]),
               30, "every acknowledged message at every member's clients")
    assert not [f for c in clients for f in c.failures], [f for c in clients for f in c.failures]
    histories = {conversation: history(deployment.url, world["users"][2 * n], conversation)
                 for n, conversation in enumerate(world["conversations"])}
    figures = delivery_figures(outboxes, clients, members, histories, since=since)
    figures["http_statuses"] = dict(sorted(watch.statuses.items()))
    figures_by_phase[phase] = figures
    for outbox in outboxes:  # in the history once each, in the order they were acknowledged
        ours = [m["client_id"] for m in histories[outbox.conversation_id]
                if (m["client_id"] or "").startswith(outbox.tag + "-")]
        assert ours == [c for c in outbox.sent if c in outbox.acked] == outbox.sent, phase
    assert figures["acknowledged"] == figures["sent"] > 0, figures
    assert figures["lost"] == figures["duplicated"] == figures["out_of_order"] == figures["stored_twice"] == 0, figures
    if set(watch.statuses) - {200}:
        print(f"{phase}: the gateway's log of errors:\n{deployment.gateway_problems(started_at - 1)}")
    assert set(watch.statuses) == {200}, f"{phase}: a user saw {watch.statuses}"
    return figures


def table(figures_by_phase: dict, artifact: str) -> list[str]:
    """A deployment test's figures as printed after the test run (tests/deploy/conftest.py)."""
    if not figures_by_phase:
        return []
    lines = [f"{artifact}; seconds: {figures_by_phase.get('timings')}",
             f"{'phase':<16}{'sent':>6}{'acked':>7}{'delivered':>11}{'lost':>6}{'dup':>5}"
             f"{'reconnects':>12}{'max reconnect s':>17}  http statuses"]
    for phase, figures in figures_by_phase.items():
        if phase == "timings":
            continue
        reconnect = figures["reconnect_seconds"]
        lines.append(f"{phase:<16}{figures['sent']:>6}{figures['acknowledged']:>7}{figures['delivered']:>11}"
                     f"{figures['lost']:>6}{figures['duplicated']:>5}{reconnect['count']:>12}"
                     f"{reconnect['max'] if reconnect['max'] is not None else '-':>17}  {figures['http_statuses']}")
    return lines
