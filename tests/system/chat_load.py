"""Real Socket.IO clients for system tests that run traffic through the product.

- `new_user` / `befriend`: set people up through the public HTTP API.
- `ChatClient`: one chat window. It keeps a single Socket.IO connection open and,
  like the web client, reconnects when it drops (through the gateway: the instance
  it was on may be gone) and catches up with `after=<last id>` before it counts as
  ready again. Every live event is kept per connection, so tests can tell "delivered
  twice on one connection" from "seen live and again in the catch-up".
- `Outbox`: what one client sends to one conversation; a send whose ack was lost is
  retried with the same client_id until acknowledged. `Sender` drives one at a
  steady rate; `Outbox.fire` pipelines a burst without waiting for acks.
  `RestOutbox` does the same over REST.
- A client also catches up without reconnecting when the server says `resync` (its
  queue connection came back) or when a live message's `previous_id` is one it never got.
- `delivery_figures`: what was sent, acknowledged, delivered (live or by catch-up), lost, duplicated.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable

import requests
import socketio

PASSWORD = "correct horse battery"
RECONNECT_DEADLINE = 30.0  # seconds a client keeps trying before it gives up
ACK_TIMEOUT = 5.0  # an ack slower than this counts as lost: drop the connection and retry


def new_user(base: str, prefix: str) -> dict:
    """Register a user and return {id, username, token, headers}."""
    username = f"{prefix}_{secrets.token_hex(4)}"
    created = requests.post(f"{base}/auth/register", timeout=10, json={
        "username": username, "email": f"{username}@example.com", "password": PASSWORD})
    assert created.status_code == 201, created.text
    issued = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    return {"id": created.json()["user"]["id"], "username": username, "token": token,
            "headers": {"Authorization": f"Bearer {token}"}}


def befriend(base: str, alice: dict, bob: dict) -> int:
    """Make alice and bob friends; return their direct conversation id."""
    asked = requests.post(f"{base}/api/friend-requests", json={"username": bob["username"]},
                          headers=alice["headers"], timeout=10)
    assert asked.status_code == 201, asked.text
    accepted = requests.post(f"{base}/api/friend-requests/{asked.json()['request']['id']}/accept",
                             headers=bob["headers"], timeout=10)
    assert accepted.status_code == 200, accepted.text
    return accepted.json()["conversation_id"]


def history(base: str, user: dict, conversation_id: int, after: int = 0, session: requests.Session | None = None,
            ) -> list[dict]:
    """Every message of the conversation after `after`, oldest first (pages of 100)."""
    messages: list[dict] = []
    for _ in range(1000):
        page = get_json(session or requests.Session(), f"{base}/api/conversations/{conversation_id}/messages",
                        user, params={"after": after, "limit": 100})
        messages.extend(page["messages"])
        if not page["has_more"]:
            return messages
        after = page["messages"][-1]["id"]
    raise AssertionError(f"conversation {conversation_id} pages without end")


def get_json(http: requests.Session, url: str, user: dict, params: dict | None = None) -> dict:
    """GET a 200 answer, waiting out an outage (503, no connection) as a client would."""
    deadline = time.monotonic() + RECONNECT_DEADLINE
    while True:
        try:
            response = http.get(url, params=params, headers=user["headers"], timeout=10)
        except requests.RequestException as error:
            response, problem = None, repr(error)
        else:
            if response.status_code == 200:
                return response.json()
            problem = f"{response.status_code} {response.text[:200]}"
            if response.status_code != 503:
                raise AssertionError(f"GET {url}: {problem}")
        if time.monotonic() > deadline:
            raise AssertionError(f"GET {url} kept failing: {problem}")
        time.sleep(0.2)


class LinkLost(Exception):
    """The connection an event was sent on closed before its ack arrived."""


class AckTimeout(Exception):
    """No ack within ACK_TIMEOUT on a connection that still looks open."""


@dataclass
class Link:
    """One Socket.IO connection (a client has a new one after each reconnect)."""

    url: str
    sio: socketio.Client
    messages: list[dict] = field(default_factory=list)  # live `message` events, in arrival order
    closed: threading.Event = field(default_factory=threading.Event)
    synced: bool = False  # caught up: its live messages now move the catch-up cursor


@dataclass(frozen=True)
class Reconnect:
    started: float  # time.monotonic() of the disconnect
    seconds: float  # until reconnected and caught up


class ChatClient:
    """A chat window of `user`, first connected to `url` with one transport."""

    def __init__(self, name: str, user: dict, *, url: str, gateway: str, transport: str,
                 reconnect: bool = True) -> None:
        self.name = name
        self.user = user
        self.url = url
        self.gateway = gateway
        self.transport = transport
        self.reconnect = reconnect
        # Engine.IO's HTTP session: it keeps the gateway's `route` cookie, so every
        # long-polling request (and each reconnect) hashes onto the same instance.
        self.http = requests.Session()
        self.api = requests.Session()
        self.links: list[Link] = []
        self.seen: dict[int, dict[int, dict]] = {}  # conversation -> message id -> message (live or catch-up)
        self.events: list[tuple[float, str, dict]] = []  # (monotonic time, name, data) of presence/typing
        self.reconnects: list[Reconnect] = []
        self.failures: list[str] = []
        self.trace: list[str] = []  # what the reconnect supervisor did, for a failure message
        self.ready = threading.Event()  # connected and caught up
        self._cursor: dict[int, int] = {}  # conversation -> id up to which nothing is missing
        self._lock = threading.Lock()
        self._lost = threading.Event()
        self._resync = threading.Event()  # told to, or noticed a gap: catch up on this connection
        self.resyncs = 0
        self._lost_at = 0.0
        self._closing = False
        self._supervisor: threading.Thread | None = None

    # -- connection --------------------------------------------------------------------------------

    @property
    def link(self) -> Link:
        return self.links[-1]

    def connect(self) -> "ChatClient":
        link = self._open(self.url)
        link.synced = True  # nothing happened before the first connection
        self.ready.set()
        if self.reconnect:
            self._supervisor = threading.Thread(target=self._supervise, name=f"reconnect-{self.name}", daemon=True)
            self._supervisor.start()
        return self

    def _open(self, url: str) -> Link:
        sio = socketio.Client(reconnection=False, http_session=self.http)
        link = Link(url, sio)
        sio.on("message", lambda message: self._on_message(link, message))
        sio.on("presence", lambda data: self._on_event("presence", data))
        sio.on("typing", lambda data: self._on_event("typing", data))
        sio.on("resync", lambda *data: self._resync.set())
        sio.on("disconnect", lambda *reason: self._on_disconnect(link))
        with self._lock:
            self.links.append(link)
        try:
            sio.connect(url, transports=[self.transport], auth={"token": self.user["token"]}, wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            link.closed.set()
            raise
        return link

    def _on_message(self, link: Link, message: dict) -> None:
        with self._lock:
            link.messages.append(message)
            conversation = message["conversation_id"]
            self.seen.setdefault(conversation, {})[message["id"]] = message
            if not link.synced:
                return
            if not self._advance(conversation, [message]):
                self._resync.set()  # the message before this one never came: fetch what is missing

    def _advance(self, conversation: int, messages: list[dict]) -> bool:
        """Move the conversation's cursor over `messages` (in id order) while each follows
        on from it (`previous_id`); False at the first that does not (a gap). Under _lock."""
        cursor = self._cursor.get(conversation, 0)
        for message in messages:
            previous = message.get("previous_id")
            if message["id"] <= cursor:
                continue
            if previous is not None and previous > cursor:
                self._cursor[conversation] = cursor
                return False
            cursor = message["id"]
        self._cursor[conversation] = cursor
        return True

    def _on_event(self, name: str, data: dict) -> None:
        with self._lock:
            self.events.append((time.monotonic(), name, data))

    def _on_disconnect(self, link: Link) -> None:
        with self._lock:
            if link.closed.is_set():
                return
            link.closed.set()
            if link is not self.links[-1] or self._closing:
                return
            self.ready.clear()
            self._lost_at = time.monotonic()
            self._note(f"disconnected from link {len(self.links)}")
        self._lost.set()

    def _supervise(self) -> None:
        while not self._closing:
            if not self._lost.wait(0.2):
                if self._resync.is_set():
                    self._resync.clear()
                    self._resynchronise()
                continue
            self._lost.clear()
            started = self._lost_at
            self._note("lost")
            try:
                link = self._reopen(started)
                self._note("reopened")
                self._catch_up(link)
                self._note("caught up")
            except Exception as error:  # recorded: the test asserts there are no failures
                self._note(f"gave up: {error!r}")
                self.failures.append(f"{self.name}: {error!r}")
                continue
            with self._lock:
                if link.closed.is_set():
                    continue  # dropped again while catching up: the next round starts from the cursor
                link.synced = True
                self.reconnects.append(Reconnect(started, time.monotonic() - started))
                self.ready.set()

    def _resynchronise(self) -> None:
        """Catch up without reconnecting (the server said so, or a gap showed)."""
        link = self.link
        try:
            self._catch_up(link)
        except Exception as error:  # recorded: the test asserts there are no failures
            self.failures.append(f"{self.name}: resync: {error!r}")
            return
        self.resyncs += 1

    def _reopen(self, started: float) -> Link:
        delay = 0.1
        while not self._closing:
            try:
                # The instance this client was on may be gone; the gateway finds a live one.
                return self._open(self.gateway)
            except socketio.exceptions.ConnectionError as error:
                self._note(f"connect failed: {error}")
                if time.monotonic() - started > RECONNECT_DEADLINE:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
        raise LinkLost("closing")

    def _note(self, what: str) -> None:
        self.trace.append(f"{time.monotonic():.2f} {what}")

    def _catch_up(self, link: Link) -> None:
        """Fetch what was missed while away: after=<cursor> for every conversation."""
        listed = get_json(self.api, self.gateway + "/api/conversations", self.user)
        for conversation in listed["conversations"]:
            conversation_id = conversation["id"]
            with self._lock:
                after = self._cursor.get(conversation_id, 0)
            missed = history(self.gateway, self.user, conversation_id, after=after, session=self.api)
            with self._lock:
                known = self.seen.setdefault(conversation_id, {})
                for message in missed:
                    known.setdefault(message["id"], message)
                # History pages have no gaps; live messages that came meanwhile count only
                # where they follow on from what is known.
                self._cursor[conversation_id] = max([after, *(m["id"] for m in missed)])
                live = sorted((m for m in link.messages if m["conversation_id"] == conversation_id),
                              key=lambda m: m["id"])
                if not self._advance(conversation_id, live):
                    self._resync.set()

    def drop(self, link: Link) -> None:
        """Give up on a connection that stopped answering, as a real client would, and reconnect.

        The old connection is closed aside: on long-polling, disconnect() waits for the pending
        poll, which an instance that is gone may hold until the gateway's read timeout."""
        threading.Thread(target=self._disconnect_quietly, args=(link,), daemon=True).start()
        self._on_disconnect(link)

    @staticmethod
    def _disconnect_quietly(link: Link) -> None:
        try:
            link.sio.disconnect()
        except Exception:
            pass

    def close(self) -> None:
        self._closing = True
        for link in self.links:
            if not link.closed.is_set():
                link.closed.set()
                try:
                    link.sio.disconnect()
                except Exception:
                    pass
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)

    # -- events ------------------------------------------------------------------------------------

    def call(self, event: str, data: dict, timeout: float = ACK_TIMEOUT) -> dict:
        """Emit on the current connection and wait for the ack (LinkLost/AckTimeout otherwise)."""
        link = self.link
        if link.closed.is_set():
            raise LinkLost(self.name)
        answered = threading.Event()
        acks: list = []

        def on_ack(*args) -> None:
            acks.append(args[0] if args else None)
            answered.set()

        try:
            link.sio.emit(event, data, callback=on_ack)
        except socketio.exceptions.SocketIOError as error:
            raise LinkLost(self.name) from error
        deadline = time.monotonic() + timeout
        while not answered.wait(0.02):
            if link.closed.is_set():
                raise LinkLost(self.name)
            if time.monotonic() > deadline:
                raise AckTimeout(self.name)
        return acks[0]

    def events_named(self, name: str) -> list[dict]:
        with self._lock:
            return [data for _, event, data in self.events if event == name]

    def has_seen(self, message: dict) -> bool:
        with self._lock:
            return message["id"] in self.seen.get(message["conversation_id"], {})

    def live_ids(self) -> set[int]:
        """The ids of the messages that arrived as live events on any of this client's connections."""
        with self._lock:
            return {m["id"] for link in self.links for m in link.messages}

    def live(self, conversation_id: int, link: Link | None = None) -> list[tuple[int, str]]:
        """(id, text) of the live messages of one conversation on one connection, as they arrived."""
        link = link or self.link
        with self._lock:
            return [(m["id"], m["text"]) for m in link.messages if m["conversation_id"] == conversation_id]


class Outbox:
    """The messages one client sends to one conversation, `tag-N` each.

    A send whose ack does not come (the instance died, the connection dropped) is
    retried with the same client_id once the client is back, until acknowledged.
    """

    def __init__(self, client: ChatClient, conversation_id: int, tag: str) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.tag = tag
        self.sent: list[str] = []  # client ids, in order
        self.acked: dict[str, dict] = {}  # client id -> acknowledged message
        self.attempts = 0
        self.repeated = 0  # acks with created=false: stored before, its first ack lost
        self.failures: list[str] = []
        self.unavailable = 0  # answers "unavailable" (503): expected during an outage, retried
        self.server_errors: list[str] = []  # any other server error (5xx, internal_error): a bug
        self.first_ack = threading.Event()
        self._unanswered: dict[str, str] = {}  # client id -> text, fired without waiting
        self._lock = threading.Lock()

    def _payload(self, number: int) -> tuple[str, str]:
        client_id = f"{self.tag}-{number}"
        self.sent.append(client_id)
        return client_id, f"{self.tag} #{number}"

    def _record(self, client_id: str, ack: dict) -> bool:
        if not ack.get("ok"):
            code = (ack.get("error") or {}).get("code")
            if code == "unavailable":
                self.unavailable += 1
            elif code == "internal_error":
                self.server_errors.append(f"{client_id}: {ack}")
            else:
                self.failures.append(f"{client_id}: {ack}")
            return False
        with self._lock:
            self.acked[client_id] = ack["message"]
            self.repeated += ack.get("created") is False
            self._unanswered.pop(client_id, None)
        self.first_ack.set()
        return True

    def send(self) -> None:
        """Send the next message and return once it is acknowledged."""
        self._send_until_acked(*self._payload(len(self.sent)))

    def _send_until_acked(self, client_id: str, text: str) -> None:
        deadline = time.monotonic() + RECONNECT_DEADLINE + 10
        while time.monotonic() < deadline:
            if not self.client.ready.wait(max(0.0, deadline - time.monotonic())):
                break
            link = self.client.link
            self.attempts += 1
            try:
                ack = self.client.call("send", {"conversation_id": self.conversation_id, "text": text,
                                                "client_id": client_id})
            except LinkLost:
                time.sleep(0.05)  # the client notices the drop and starts reconnecting
                continue
            except AckTimeout:
                self.client.drop(link)
                continue
            if self._record(client_id, ack):
                return
            time.sleep(0.2)
        self.failures.append(f"{client_id}: never acknowledged")

    def fire(self, count: int) -> None:
        """Send `count` messages at once without waiting for their acks (a client that pipelines)."""
        for _ in range(count):
            client_id, text = self._payload(len(self.sent))
            with self._lock:
                self._unanswered[client_id] = text
            self.attempts += 1
            try:
                self.client.link.sio.emit(
                    "send", {"conversation_id": self.conversation_id, "text": text, "client_id": client_id},
                    callback=lambda ack, client_id=client_id: self._record(client_id, ack))
            except socketio.exceptions.SocketIOError:
                pass  # retried by finish()

    def finish(self) -> None:
        """Retry, with the same client_id, every fired message whose ack never came."""
        with self._lock:
            unanswered = list(self._unanswered.items())
        for client_id, text in unanswered:
            self._send_until_acked(client_id, text)


class RestOutbox(Outbox):
    """An Outbox that sends with `POST /api/conversations/<id>/messages` through the
    gateway, retrying with the same client_id until 201/200. A 503 is an outage the
    client waits out; any other 5xx is a server error (counted, then retried)."""

    def __init__(self, client: ChatClient, conversation_id: int, tag: str) -> None:
        super().__init__(client, conversation_id, tag)
        self.http = requests.Session()

    def _send_until_acked(self, client_id: str, text: str) -> None:
        url = f"{self.client.gateway}/api/conversations/{self.conversation_id}/messages"
        deadline = time.monotonic() + RECONNECT_DEADLINE + 10
        while time.monotonic() < deadline:
            self.attempts += 1
            try:
                response = self.http.post(url, json={"text": text, "client_id": client_id},
                                          headers=self.client.user["headers"], timeout=ACK_TIMEOUT)
            except requests.RequestException:
                time.sleep(0.2)  # no answer: as good as a lost ack, retried
                continue
            if response.status_code in (200, 201):
                self._record(client_id, {"ok": True, "message": response.json()["message"],
                                         "created": response.status_code == 201})
                return
            if response.status_code == 503:
                self.unavailable += 1
            elif response.status_code >= 500:
                self.server_errors.append(f"{client_id}: {response.status_code} {response.text[:200]}")
            else:
                self.failures.append(f"{client_id}: {response.status_code} {response.text[:200]}")
            time.sleep(0.2)
        self.failures.append(f"{client_id}: never acknowledged")


class Sender:
    """Sends on an Outbox every `interval` seconds, each after the previous one's ack."""

    def __init__(self, outbox: Outbox, interval: float) -> None:
        self.outbox = outbox
        self.interval = interval
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sender-{outbox.tag}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.outbox.send()
            next_at += self.interval
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=RECONNECT_DEADLINE + 15)
        assert not self._thread.is_alive(), f"{self._thread.name} did not stop"


def seconds_summary(values: Iterable[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"count": 0, "min": None, "median": None, "max": None}
    return {"count": len(values), "min": round(values[0], 3), "median": round(statistics.median(values), 3),
            "max": round(values[-1], 3)}


def delivery_figures(outboxes: list[Outbox], clients: list[ChatClient], members: dict[int, set[int]],
                     histories: dict[int, list[dict]], since: float = 0.0) -> dict:
    """Counts for the messages of `outboxes` (their tags select what belongs to this run).

    delivered: (message, member's client) pairs seen live or in a catch-up;
    lost: acknowledged messages missing from history + pairs never seen;
    duplicated: the same message twice on one connection;
    out_of_order: a live message with an id below one that came before it on its connection
    (`out_of_order_examples` names the first ones: client, connection, conversation, ids).
    """
    tags = tuple(f"{outbox.tag}-" for outbox in outboxes)
    stored = {m["id"]: m for messages in histories.values() for m in messages}
    stored_client_ids = [m["client_id"] for m in stored.values() if (m["client_id"] or "").startswith(tags)]
    acked = [m for outbox in outboxes for m in outbox.acked.values()]
    lost_messages = [m for m in acked if m["id"] not in stored]
    delivered = live = missed = 0
    live_ids = {client.name: client.live_ids() for client in clients}
    for message in acked:
        for client in clients:
            if client.user["id"] in members[message["conversation_id"]]:
                if client.has_seen(message):
                    delivered += 1
                    live += message["id"] in live_ids[client.name]
                else:
                    missed += 1
    duplicated = 0
    out_of_order: list[str] = []
    for client in clients:
        for number, link in enumerate(client.links):
            ours = [m for m in link.messages if (m["client_id"] or "").startswith(tags)]
            duplicated += len(ours) - len({m["id"] for m in ours})
            last: dict[int, int] = {}
            for m in ours:
                if m["id"] < last.get(m["conversation_id"], 0):
                    out_of_order.append(f"{client.name} connection {number} ({link.url}), conversation "
                                        f"{m['conversation_id']}: {m['id']} after {last[m['conversation_id']]}")
                last[m["conversation_id"]] = max(m["id"], last.get(m["conversation_id"], 0))
    reconnects = [r.seconds for client in clients for r in client.reconnects if r.started >= since]
    return {
        "sent": sum(len(outbox.sent) for outbox in outboxes),
        "send_attempts": sum(outbox.attempts for outbox in outboxes),
        "acknowledged": len(acked),
        "acked_on_retry_already_stored": sum(outbox.repeated for outbox in outboxes),
        "stored": len(stored_client_ids),
        "stored_twice": len(stored_client_ids) - len(set(stored_client_ids)),
        "delivered": delivered,
        "delivered_live": live,
        "delivered_by_catch_up": delivered - live,
        "never_delivered": missed,
        "acked_but_lost": len(lost_messages),
        "lost": len(lost_messages) + missed,
        "duplicated": duplicated,
        "out_of_order": len(out_of_order),
        "out_of_order_examples": out_of_order[:5],
        "reconnect_seconds": seconds_summary(reconnects),
    }
