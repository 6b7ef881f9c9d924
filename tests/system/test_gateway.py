"""What the nginx gateway adds: WebSocket upgrade, sticky long-polling, headers, limits."""

from __future__ import annotations

import json
import re
import secrets
import signal
import time
from pathlib import Path

import pytest
import requests
import socketio
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager

from shared.testing import SocketEvents

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system

# One value each (a service's own header replaces the gateway's default, never doubles it).
REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


def connect(base: str, user: dict, transport: str) -> tuple[socketio.Client, SocketEvents]:
    client = socketio.Client(reconnection=False)
    inbox = SocketEvents(client)
    client.connect(base, transports=[transport], auth={"token": user["token"]}, wait_timeout=10)
    return client, inbox


def test_websocket_upgrade_reaches_chat(live_stack):
    base = live_stack.url
    alice, bob = new_user(base, "ws_alice"), new_user(base, "ws_bob")
    conversation_id = befriend(base, alice, bob)

    client, inbox = connect(base, bob, "websocket")
    try:
        assert client.transport() == "websocket"
        text = f"over websocket {secrets.token_hex(3)}"
        sent = requests.post(f"{base}/api/conversations/{conversation_id}/messages",
                             json={"text": text, "client_id": secrets.token_hex(8)}, headers=alice["headers"],
                             timeout=10)
        assert sent.status_code == 201, sent.text
        inbox.wait_for("message", lambda message: message["text"] == text)

        ack = client.call("send", {"conversation_id": conversation_id, "text": "reply", "client_id": "r-1"},
                          timeout=10)
        assert ack["ok"] is True and ack["message"]["text"] == "reply"
    finally:
        client.disconnect()


def test_socket_without_a_token_is_refused(live_stack):
    client = socketio.Client(reconnection=False)
    errors = []
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_stack.url, transports=["websocket"], wait_timeout=10)
    assert errors and "unauthorized" in str(errors[0]), errors


@pytest.fixture(scope="module")
def two_instance_stack(start_stack):
    with start_stack(chat_instances=2, postgres=True, redis=True) as stack:
        yield stack


def engineio_handshake(session: requests.Session, base: str) -> str:
    response = session.get(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    assert response.status_code == 200, response.text
    return re.search(r'"sid":"([^"]+)"', response.text).group(1)


def post_pong(session: requests.Session, base: str, sid: str) -> int:
    """A no-op packet; only the instance that owns `sid` accepts it (the others answer 400)."""
    return session.post(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                        data="3", headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=10).status_code


def test_route_cookie_keeps_long_polling_on_one_instance(two_instance_stack):
    base = two_instance_stack.url
    session = requests.Session()
    sid = engineio_handshake(session, base)
    route = session.cookies.get("route")
    assert route, "the gateway must set the route cookie on /socket.io/"
    assert [post_pong(session, base, sid) for _ in range(10)] == [200] * 10

    # Control: without the cookie each request hashes anew and some land on the other instance.
    statuses = [post_pong(requests.Session(), base, sid) for _ in range(12)]
    assert 400 in statuses, "both chat instances should receive traffic when no route is pinned"


def test_long_polling_clients_chat_across_two_instances(two_instance_stack):
    base = two_instance_stack.url
    alice, bob = new_user(base, "poll_alice"), new_user(base, "poll_bob")
    conversation_id = befriend(base, alice, bob)
    clients = []
    try:
        # Several connections per user so that, with random routes, both instances serve someone.
        for user in (alice, bob, alice, bob):
            clients.append(connect(base, user, "polling"))
        for client, _ in clients:
            assert client.transport() == "polling"
        text = f"across instances {secrets.token_hex(3)}"
        ack = clients[0][0].call("send", {"conversation_id": conversation_id, "text": text,
                                          "client_id": secrets.token_hex(8)}, timeout=10)
        assert ack["ok"] is True, ack
        for _, inbox in clients:
            inbox.wait_for("message", lambda message: message["text"] == text)
    finally:
        for client, _ in clients:
            client.disconnect()


def test_a_dead_chat_instance_does_not_take_the_api_down(two_instance_stack):
    stack = two_instance_stack
    stack.stop_chat(1, signal.SIGKILL)
    try:
        # Different routes hash onto both instances; nginx retries the live one.
        statuses = [requests.get(f"{stack.url}/api/healthz", cookies={"route": f"route-{i}"}, timeout=10).status_code
                    for i in range(12)]
        assert statuses == [200] * 12
    finally:
        stack.start_chat(1)
    assert requests.get(f"{stack.chat_urls[1]}/healthz", timeout=10).status_code == 200


def test_every_chat_instance_down_gives_the_envelope_every_time(two_instance_stack):
    """The first request finds both instances refusing (502 from their addresses); the next ones
    find no live instance at all, are sent once more (@retry) and fail again: each answer is the
    503 envelope, never nginx's own error page."""
    stack = two_instance_stack
    for instance in (0, 1):
        stack.stop_chat(instance)
    try:
        for i in range(4):
            answered = requests.get(f"{stack.url}/api/conversations", cookies={"route": f"down-{i}"}, timeout=20)
            assert answered.status_code == 503, answered.text
            assert answered.json()["error"]["code"] == "unavailable"
    finally:
        for instance in (0, 1):
            stack.start_chat(instance)
    log = (stack.run_dir / "logs" / "nginx-access.log").read_text().splitlines()
    upstreams = [json.loads(line)["upstream"] for line in log if '"uri":"/api/conversations"' in line]
    # "<group> : <group>": no live instance, then the same again from @retry.
    assert "chat_service : chat_service" in upstreams, upstreams


def test_security_headers_on_every_route(live_stack):
    base = live_stack.url
    session = requests.Session()
    for path in ("/", "/healthz", "/auth/me", "/auth/healthz", "/api/healthz", "/api/friends",
                 "/socket.io/?EIO=4&transport=polling"):
        response = session.get(base + path, timeout=10, allow_redirects=False)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (path, response.headers)
        assert response.headers.get("X-Frame-Options") in {"DENY", "SAMEORIGIN"}, (path, response.headers)
        assert response.headers.get("Referrer-Policy") in REFERRER_POLICIES, (path, response.headers)
        assert response.headers.get("Server", "nginx") == "nginx", "nginx must not reveal its version"


def test_route_cookie_attributes(live_stack):
    response = requests.get(f"{live_stack.url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    cookie = next(h for h in response.raw.headers.getlist("Set-Cookie") if h.startswith("route="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


def test_request_id_from_the_gateway_reaches_the_service(live_stack):
    response = requests.get(f"{live_stack.url}/auth/healthz", timeout=10)
    request_id = response.headers.get("X-Request-ID")
    assert request_id and re.fullmatch(r"[0-9a-f]{32}", request_id)
    access_log = Path(live_stack.log_dir, "nginx-access.log")

    def logged() -> str:
        # The log holds request lines as clients sent them: nginx's JSON escaping leaves bytes
        # over 0x7F as they are, and the hostile-input tests send some that are not UTF-8.
        return access_log.read_text(errors="replace")

    deadline = time.monotonic() + 5  # nginx logs the request just after answering it
    while f'"request_id":"{request_id}"' not in logged() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f'"request_id":"{request_id}"' in logged()


def test_errors_made_by_nginx_carry_the_default_headers(live_stack):
    response = requests.post(f"{live_stack.url}/auth/login", data=b"x" * (2 * 1024 * 1024), timeout=30)
    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_body_over_the_limit_is_refused_with_413(live_stack):
    response = requests.post(f"{live_stack.url}/api/conversations", data=b"x" * (2 * 1024 * 1024),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_pages_are_compressed(live_stack):
    response = requests.get(f"{live_stack.url}/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers.get("Content-Encoding") == "gzip"


class SourceAddressAdapter(HTTPAdapter):
    """Connect from a chosen loopback address (all of 127.0.0.0/8 reaches the gateway)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        self.poolmanager = PoolManager(num_pools=connections, maxsize=maxsize, block=block,
                                       source_address=(self.source, 0), **kwargs)


def client_from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(address))
    return session


def test_client_address_reaches_auth_through_x_forwarded_for(start_stack):
    """The per-address login limit sees the real client, not the gateway, and a forged header doesn't help."""
    with start_stack(redis=True, env={"LOGIN_FAILURE_LIMIT_IP": "3", "LOGIN_FAILURE_LIMIT_USER": "100"}) as stack:
        attacker, bystander = client_from("127.0.0.2"), client_from("127.0.0.3")
        statuses = []
        for attempt in range(6):
            statuses.append(attacker.post(
                f"{stack.url}/auth/login", json={"username": f"nobody{attempt}", "password": "wrong password"},
                headers={"X-Forwarded-For": f"198.51.100.{attempt}"}, timeout=10).status_code)
        assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429, statuses
        bystander_try = bystander.post(f"{stack.url}/auth/login",
                                       json={"username": "nobody", "password": "wrong password"}, timeout=10)
        assert bystander_try.status_code == 401


def test_internal_calls_are_not_reachable_through_the_gateway(live_stack):
    """auth's notices to chat (no Redis: shared.notices) go to the instance itself; the same signed
    notice sent through the gateway is refused there and ends nothing."""
    from shared import jwt, notices
    from shared.config import key_ring_from_env
    from stack.stack import load_or_create_secrets

    user = new_user(live_stack.url, "internal")
    ring = key_ring_from_env(load_or_create_secrets(live_stack.run_dir))
    session_id = jwt.decode(user["token"], ring, issuer="chat-auth", audience="chat")["sid"]
    body = {"notice": notices.sign_notice(notices.SESSIONS_ENDED, {"session_ids": [session_id], "keep_for": 60},
                                          ring, issuer="chat-auth")}
    outside = requests.post(f"{live_stack.url}/internal/sessions-ended", json=body, timeout=10)
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_found"
    assert requests.get(f"{live_stack.url}/api/friends", headers=user["headers"], timeout=10).status_code == 200
    # The notice itself was good: sent to the chat instance directly, it ends the session.
    inside = requests.post(f"{live_stack.chat_urls[0]}/internal/sessions-ended", json=body, timeout=10)
    assert inside.status_code == 204
    assert requests.get(f"{live_stack.url}/api/friends", headers=user["headers"], timeout=10).status_code == 401
