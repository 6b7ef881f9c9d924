"""The real thing: gunicorn + gevent instances joined by Redis, a real
python-socketio client over WebSocket, PostgreSQL."""

import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import socketio
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, Message, Request, TextMessage

from chat_service.migrate import upgrade
from shared.testing import SocketEvents, free_port, require_postgres, require_redis, temporary_postgres_database

from .conftest import ISSUER, AUDIENCE, KEY_RING, make_token

pytestmark = pytest.mark.system
REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def start_instance(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    command = [str(GUNICORN), "-k", "gevent", "-w", "1", "--worker-connections", "12000", "--no-control-socket",
               "-b", f"127.0.0.1:{port}", "chat_service.wsgi:app"]
    log = open(log_path, "wb")
    return subprocess.Popen(command, cwd=REPO, env={**env, "INSTANCE_ID": f"test-{port}"}, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not become healthy: {log_path.read_text()[-2000:]}")


def instance_env(database_url: str, redis_url: str, **settings: str) -> dict:
    spec = ",".join(f"{kid}:{key.decode()}" for kid, key in KEY_RING.keys.items())
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_KEYS": spec,
            "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "AUTH_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
            "ALLOWED_ORIGINS": "http://allowed.example", "REDIS_PREFIX": f"chat-test-{secrets.token_hex(4)}",
            "PRESENCE_TTL": "6", **settings}


@pytest.fixture(scope="module", params=["redis", "sharded"])
def cluster(tmp_path_factory, request):
    require_postgres()
    redis_url = require_redis()
    logs = tmp_path_factory.mktemp("gunicorn")
    with temporary_postgres_database("chat_system") as database_url:
        upgrade(database_url)
        # Longer than the tests wait: a refusal then proves the invalidation through Redis.
        env = instance_env(database_url, redis_url, SOCKETIO_MANAGER=request.param, FRIENDSHIP_CACHE_TTL="120")
        instances = []
        try:
            for _ in range(2):
                port = free_port()
                log_path = logs / f"{port}.log"
                process = start_instance(env, port, log_path)
                instances.append(process)
                wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
                instances[-1].url = f"http://127.0.0.1:{port}"
            yield instances
        finally:
            for process in instances:
                process.terminate()
            for process in instances:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def user(uid: int, name: str) -> dict:
    record = {"id": uid, "username": name, "created_at": "2024-01-01T00:00:00.000Z"}
    return {**record, "token": make_token(record)}


def headers(who: dict) -> dict:
    return {"Authorization": f"Bearer {who['token']}"}


def befriend_across(asked_on, answered_on, alice: dict, bob: dict) -> int:
    """alice asks on one instance, bob accepts on the other; their conversation's id."""
    assert requests.get(f"{answered_on.url}/api/friends", headers=headers(bob), timeout=5).status_code == 200
    response = requests.post(f"{asked_on.url}/api/friend-requests", json={"username": bob["username"]},
                             headers=headers(alice), timeout=5)
    assert response.status_code == 201, response.text
    accepted = requests.post(f"{answered_on.url}/api/friend-requests/{response.json()['request']['id']}/accept",
                             headers=headers(bob), timeout=5)
    assert accepted.status_code == 200, accepted.text
    return accepted.json()["conversation_id"]


USER_IDS = itertools.count(1000, 2)


@pytest.fixture
def friends(cluster):
    """Two new users who became friends across the instances, and their conversation."""
    first = next(USER_IDS)
    alice, bob = user(first, f"alice{first}"), user(first + 1, f"bob{first + 1}")
    return alice, bob, befriend_across(*cluster, alice, bob)


class Client:
    def __init__(self, url: str, who: dict) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events = SocketEvents(self.sio)
        self.sio.connect(url, auth={"token": who["token"]}, transports=["websocket"], wait_timeout=5)

    def wait_for(self, name: str):
        return self.events.wait_for(name, timeout=5)


def test_websocket_across_two_instances(cluster):
    one, two = cluster
    alice, bob = user(1, "alice"), user(2, "bob")
    conversation_id = befriend_across(one, two, alice, bob)

    a = Client(one.url, alice)
    try:
        assert a.sio.transport() == "websocket"
        b = Client(two.url, bob)
        assert b.sio.transport() == "websocket"
        assert a.wait_for("presence") == {"user_id": bob["id"], "online": True}

        ack = a.sio.call("send", {"conversation_id": conversation_id, "text": "across", "client_id": "s1"},
                         timeout=5)
        assert ack["ok"] is True
        assert b.wait_for("message") == ack["message"]  # delivered by the other instance, through Redis
        assert a.wait_for("message") == ack["message"]

        assert b.sio.call("typing", {"conversation_id": conversation_id}, timeout=5) == {"ok": True}
        assert a.wait_for("typing")["user"]["id"] == bob["id"]

        b.sio.disconnect()
        assert a.wait_for("presence") == {"user_id": bob["id"], "online": False}
    finally:
        a.sio.disconnect()


def test_connect_errors_say_unauthorized_and_why(cluster):
    one, _ = cluster
    expired = make_token({"id": 3, "username": "carol", "created_at": "2024-01-01T00:00:00Z"}, lifetime=-600)
    for token, code in ((expired, "token_expired"), ("garbage", "invalid_token")):
        errors = []
        sio = socketio.Client(reconnection=False)
        sio.on("connect_error", lambda data: errors.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            sio.connect(one.url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
        assert errors and errors[0]["message"] == "unauthorized" and errors[0]["data"]["code"] == code


def test_cross_origin_handshake_is_refused(cluster):
    one, _ = cluster
    token = user(4, "dave")["token"]
    for origin, allowed in (("http://evil.example", False), ("http://allowed.example", True),
                            (one.url, True)):
        response = requests.get(f"{one.url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin},
                                cookies={"access_token": token}, timeout=5)
        assert (response.status_code == 200) is allowed, (origin, response.status_code)


def test_friend_removed_on_one_instance_stops_sends_on_the_other(cluster, friends):
    one, two = cluster
    alice, bob, conversation_id = friends
    a = Client(one.url, alice)
    try:
        ack = a.sio.call("send", {"conversation_id": conversation_id, "text": "cached now"}, timeout=5)
        assert ack["ok"] is True  # instance one has cached that they are friends
        assert requests.delete(f"{two.url}/api/friends/{alice['username']}", headers=headers(bob), timeout=5).status_code == 204
        deadline = time.time() + 3
        while True:
            ack = a.sio.call("send", {"conversation_id": conversation_id, "text": "after"}, timeout=5)
            if not ack["ok"] or time.time() > deadline:
                break
            time.sleep(0.05)
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    finally:
        a.sio.disconnect()


def test_concurrent_writers_on_the_sqlite_default_get_no_500(tmp_path, fake_auth):
    """The no-configuration default (one gevent instance on SQLite) under concurrent
    first-time users: every request stores its user row and a friend request."""
    from concurrent.futures import ThreadPoolExecutor

    database_url = f"sqlite:///{tmp_path / 'chat.sqlite3'}"
    upgrade(database_url)
    spec = ",".join(f"{kid}:{key.decode()}" for kid, key in KEY_RING.keys.items())
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_KEYS": spec, "JWT_ISSUER": ISSUER,
           "JWT_AUDIENCE": AUDIENCE, "AUTH_SERVICE_URL": fake_auth.url}
    env.pop("REDIS_URL", None)
    port = free_port()
    process = start_instance(env, port, tmp_path / "gunicorn.log")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, tmp_path / "gunicorn.log")
        target = fake_auth.register(f"popular_{secrets.token_hex(3)}")
        senders = [user(5000 + i, f"fan_{secrets.token_hex(3)}") for i in range(24)]

        def ask(sender):
            return requests.post(f"{url}/api/friend-requests", json={"username": target["username"]},
                                 headers={"Authorization": f"Bearer {sender['token']}"}, timeout=30)

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = [response.status_code for response in pool.map(ask, senders)]
        assert statuses == [201] * len(senders)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_resend_through_another_instance_reaches_each_connection_once(cluster, friends):
    # The resend is broadcast again (its first broadcast may have died with an instance);
    # every instance's Socket.IO manager skips connections that already had it.
    one, two = cluster
    alice, bob, conversation_id = friends
    b = Client(one.url, bob)
    try:
        url = f"/api/conversations/{conversation_id}/messages"
        first = requests.post(one.url + url, json={"text": "once", "client_id": "dup-1"}, headers=headers(alice),
                              timeout=5)
        assert first.status_code == 201
        assert b.wait_for("message")["client_id"] == "dup-1"
        again = requests.post(two.url + url, json={"text": "once", "client_id": "dup-1"}, headers=headers(alice),
                              timeout=5)
        assert again.status_code == 200 and again.json() == first.json()
        # Published after the resend on the same instance, so it arrives after it.
        assert requests.post(two.url + url, json={"text": "next", "client_id": "dup-2"}, headers=headers(alice),
                             timeout=5).status_code == 201
        assert b.wait_for("message")["client_id"] == "dup-2"
    finally:
        b.sio.disconnect()


class RawClient:
    """An Engine.IO client at the WebSocket level: sends exactly the frames it is given (wsproto over a
    plain socket), and sees every frame the server sends, pings and closes included."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: deque = deque()
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}",
                                               target="/socket.io/?EIO=4&transport=websocket")))
        assert isinstance(self.next_event(), AcceptConnection)

    def send(self, *events) -> None:
        self.sock.sendall(b"".join(self.ws.send(event) for event in events))

    def send_text(self, text: str) -> None:
        self.send(Message(data=text))

    def next_event(self, timeout: float = 5):
        """The next event; what arrived with the handshake's response included."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)  # None: the server closed the TCP connection
            self.pending.extend(self.ws.events())
        return self.pending.popleft()

    def next_of(self, kind, timeout: float = 5):
        """The next event of this kind, skipping Socket.IO's own events (presence) on the way."""
        while not isinstance(event := self.next_event(timeout), kind):
            assert isinstance(event, TextMessage), event
        return event

    def receive_text(self, timeout: float = 5) -> str:
        return self.next_of(TextMessage, timeout).data

    def close(self) -> None:
        self.sock.close()


@contextmanager
def one_instance(tmp_path: Path, **settings: str):
    """One gunicorn instance on a fresh database; its port."""
    require_postgres()
    with temporary_postgres_database("chat_instance") as database_url:
        upgrade(database_url)
        env = instance_env(database_url, require_redis(), **settings)
        port, log_path = free_port(), tmp_path / "gunicorn.log"
        process = start_instance(env, port, log_path)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_an_idle_socket_gets_its_pings_on_time_and_stays_open(tmp_path):
    """Pings come from a timer per socket, a little early at random (chat_service/realtime/pings.py):
    never later than the interval the handshake announced, so clients on any network keep the socket."""
    with one_instance(tmp_path, PING_INTERVAL="5", PING_TIMEOUT="5") as port:
        ws = RawClient(port)
        opened = json.loads(ws.receive_text()[1:])
        assert (opened["pingInterval"], opened["pingTimeout"]) == (5000, 5000)
        ws.send_text("40" + json.dumps({"token": user(1, "alice")["token"]}))
        assert ws.receive_text().startswith("40{")
        answered, gaps = time.monotonic(), []
        while len(gaps) < 3:  # 15 s: longer than interval + timeout, so a missed ping would have closed it
            try:
                received = ws.receive_text(timeout=7)
            except TimeoutError:
                pytest.fail("no ping within the interval: the server dropped the socket")
            if received != "2":
                continue  # a Socket.IO event (presence), not a ping
            gaps.append(time.monotonic() - answered)
            ws.send_text("3")
            answered = time.monotonic()
        assert all(4.5 - 0.3 <= gap <= 5.0 + 0.3 for gap in gaps), gaps
        ws.close()

