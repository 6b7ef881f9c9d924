"""Hostile input through the real gateway: oversized bodies, odd paths and headers.

Oversized bodies are sent in a loop at every kind of route while other users chat
on two chat instances; every one must get 413 with the envelope, and nobody else
may see a single failure (a refused body must never make nginx count an instance
as down). The services run with a lower body limit than the gateway's here, so
bodies between the two reach them and must be refused by them just as cleanly.

Malformed requests (request lines, escapes, dot segments, headers, framing), sent as raw
bytes so no client library normalises them, are answered by the gateway itself on every
prefix: a 4xx with the error envelope, never nginx's HTML page or a 5xx.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import socketio

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system

SERVICE_LIMIT = 16 * 1024  # MAX_CONTENT_LENGTH of the services in this stack; the gateway's is 64 KiB
HUGE = b"x" * (1024 * 1024)
MIDDLING = b"x" * (32 * 1024)  # over the services' limit, under the gateway's
RUN_SECONDS = 10.0


def chunked(body: bytes, size: int = 16 * 1024):
    """The body as a generator, so requests sends it chunked (no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def oversized_requests(auth_headers: dict, conversation_id: int) -> list[tuple[str, str, dict, bytes, bool]]:
    """(label, path, headers, body, send chunked) for every kind of route, each body too large."""
    json_headers = {"Content-Type": "application/json"}
    authenticated = {**json_headers, **auth_headers}
    cases = []
    for path, headers in [
        ("/auth/register", json_headers), ("/auth/login", json_headers), ("/auth/token", json_headers),
        ("/api/conversations", authenticated), (f"/api/conversations/{conversation_id}/messages", authenticated),
    ]:
        cases += [(f"1 MiB to {path}", path, headers, HUGE, False),
                  (f"1 MiB chunked to {path}", path, headers, HUGE, True),
                  (f"32 KiB to {path}", path, headers, MIDDLING, False)]
    for path in ("/socket.io/?EIO=4&transport=polling", "/login", "/no-such-page"):
        cases += [(f"1 MiB to {path}", path, json_headers, HUGE, False),
                  (f"1 MiB chunked to {path}", path, json_headers, HUGE, True)]
    return cases


@pytest.fixture(scope="module")
def hostile_stack(start_stack):
    with start_stack(chat_instances=2, postgres=True, redis=True,
                     env={"MAX_CONTENT_LENGTH": str(SERVICE_LIMIT)}) as stack:
        yield stack


def test_oversized_bodies_get_413_every_time_and_other_users_never_notice(hostile_stack):
    base = hostile_stack.url
    alice, bob, mallory = new_user(base, "alice"), new_user(base, "bob"), new_user(base, "mallory")
    conversation_id = befriend(base, alice, bob)
    cases = oversized_requests(mallory["headers"], conversation_id)
    stop = threading.Event()
    refused: list[str] = []  # labels answered 413 with the envelope
    wrong: list[str] = []  # anything else an attacker got
    failures: list[str] = []  # anything that went wrong for alice and bob
    lock = threading.Lock()

    def attack(offset: int) -> None:
        # A new connection per request, as a flood would; routes in turn, so each is hit repeatedly.
        index = offset
        while not stop.is_set():
            label, path, headers, body, send_chunked = cases[index % len(cases)]
            index += 1
            try:
                response = requests.post(base + path, data=chunked(body) if send_chunked else body,
                                         headers=headers, timeout=30)
                answer = response.json() if response.headers.get("Content-Type") == "application/json" else {}
                ok = response.status_code == 413 and answer.get("error", {}).get("code") == "payload_too_large"
                outcome = label if ok else f"{label}: {response.status_code} {response.text[:120]!r}"
            except (requests.RequestException, ValueError) as error:
                ok, outcome = False, f"{label}: {error!r}"
            with lock:
                (refused if ok else wrong).append(outcome)

    received: list[str] = []
    bob_socket = socketio.Client(reconnection=False)
    bob_socket.on("message", lambda message: received.append(message["text"]))
    bob_socket.connect(base, transports=["websocket"], auth={"token": bob["token"]}, wait_timeout=10)

    def work(user: dict, transport: str) -> None:
        """Chat as usual: send over a socket (acknowledged) and over REST, and read the list."""
        sent = 0
        sender = socketio.Client(reconnection=False)
        sender.connect(base, transports=[transport], auth={"token": user["token"]}, wait_timeout=10)
        session = requests.Session()
        try:
            while not stop.is_set():
                text = f"{user['username']} {sent} {secrets.token_hex(3)}"
                ack = sender.call("send", {"conversation_id": conversation_id, "text": text,
                                           "client_id": secrets.token_hex(8)}, timeout=10)
                if not ack.get("ok"):
                    failures.append(f"send ack {ack}")
                posted = session.post(f"{base}/api/conversations/{conversation_id}/messages", timeout=10,
                                      json={"text": text + " rest"}, headers=user["headers"])
                listed = session.get(f"{base}/api/conversations", headers=user["headers"], timeout=10)
                for response in (posted, listed):
                    if response.status_code >= 300:
                        failures.append(f"{response.request.method} {response.url}: {response.status_code}")
                sent += 2
                time.sleep(0.05)
        except Exception as error:  # recorded: the assertion below reports it
            failures.append(repr(error))
        finally:
            sender.disconnect()

    threads = [threading.Thread(target=attack, args=(offset,)) for offset in (0, len(cases) // 2)]
    threads += [threading.Thread(target=work, args=(alice, "websocket")),
                threading.Thread(target=work, args=(bob, "polling"))]
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(60)
    try:
        stored = requests.get(f"{base}/api/conversations/{conversation_id}/messages", params={"limit": 100},
                              headers=bob["headers"], timeout=10).json()["messages"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not {m["text"] for m in stored} <= set(received):
            time.sleep(0.05)
    finally:
        bob_socket.disconnect()

    assert not wrong, f"{len(wrong)} oversized requests not answered 413: {wrong[:10]}"
    assert not failures, failures[:10]
    assert {case[0] for case in cases} <= set(refused), "every route was tried"
    assert len(refused) >= 2 * len(cases)
    print(f"\n{len(refused)} oversized bodies refused with 413 while alice and bob sent {len(stored)} messages")
    assert {m["text"] for m in stored} <= set(received), "bob missed messages while the flood ran"
    error_log = Path(hostile_stack.log_dir, "nginx-error.log").read_text()
    assert "no live upstreams" not in error_log and "while reading upstream" not in error_log


@pytest.mark.parametrize("path, content_type, status", [
    ("/api/conversations", "application/json", 401), ("/auth/me", "application/json", 405),
    ("/auth/login", "text/plain", 400), ("/api/no-such-thing", "application/json", 404),
    ("/no-such-page", "application/x-www-form-urlencoded", 404),
])
def test_a_body_answered_before_it_is_read_does_not_reset_the_connection(hostile_stack, path, content_type, status):
    """A service that answers without reading the body still reads it, or nginx would see a
    reset (502/503, and the instance counted as failed) instead of the answer."""
    statuses = [requests.post(hostile_stack.url + path, data=b"x" * (12 * 1024), timeout=10,
                              headers={"Content-Type": content_type}).status_code for _ in range(10)]
    assert statuses == [status] * 10
    error_log = Path(hostile_stack.log_dir, "nginx-error.log").read_text()
    upstream_errors = [line for line in error_log.splitlines() if f'"POST {path} ' in line and "upstream" in line]
    assert not upstream_errors, upstream_errors[:3]


def raw_request(base: str, request_line: str, headers: bytes = b"") -> tuple[int, dict, bytes]:
    """Send exactly these bytes (no client-side path normalisation); (status, headers, body)."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request_line.encode() + b"\r\nHost: gateway\r\n" + headers
                     + b"Content-Length: 2\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}")
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


@pytest.mark.parametrize("path", [
    "/api/conversations/..%2F..%2Fetc%2Fpasswd/messages",
    "/api/..%2flogin", "/auth/..%2Flogin", "/api/%2e%2e/login", "/auth/%2E%2E%2Flogin",
    "/api/../login", "/auth/./../login", "/api/conversations/..", "/api/friends%2F..%2F..%2Fchat",
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_api_and_auth_paths_never_leave_their_service(live_stack, path, method):
    status, headers, body = raw_request(live_stack.url, f"{method} {path} HTTP/1.1")
    assert status == 400, (status, body)
    assert headers["Content-Type"] == "application/json"
    assert b'"code":"bad_request"' in body


@pytest.mark.parametrize("path, content_type", [
    ("/no-such-page", "text/html"), ("/chat/nope/more", "text/html"),
    ("/api/no-such-thing", "application/json"), ("/auth/no-such-thing", "application/json"),
])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_unknown_paths_are_404_for_every_method(live_stack, path, content_type, method):
    status, headers, body = raw_request(live_stack.url, f"{method} {path} HTTP/1.1")
    assert status == 404, (status, headers, body[:200])
    assert headers["Content-Type"].startswith(content_type)


def test_query_strings_may_still_carry_encoded_slashes(live_stack):
    response = requests.get(f"{live_stack.url}/login?next=%2Fchat%2F..%2Ffriends", timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize("header", [
    b"Cookie: access_token=\x7f\x01\r\n",
    b"Cookie: a\x00b=c\r\n",
    b"Cookie: " + b"a=" + b"b" * 20000 + b"\r\n",
    b"Authorization: Bearer \x1b[31m\r\n",
])
@pytest.mark.parametrize("path", ["/api/conversations", "/auth/me", "/chat"])
def test_malformed_headers_get_the_error_envelope(live_stack, header, path):
    status, headers, body = raw_request(live_stack.url, f"GET {path} HTTP/1.1", header)
    assert status == 400, (status, body[:200])
    assert headers["Content-Type"] == "application/json"
    assert b'"code":"bad_request"' in body


def exchange(base: str, request: bytes) -> tuple[int | None, dict, bytes]:
    """Send exactly these bytes; (status, headers, body). An HTTP/0.9 answer has no status line or
    headers: (None, {}, everything the gateway sent before closing)."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        first = sock.recv(5, socket.MSG_PEEK | socket.MSG_WAITALL)
        if first != b"HTTP/":
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return None, {}, received
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


HEADERS = b"Host: gateway\r\nConnection: close\r\n"


def get(target: bytes, headers: bytes = b"", line_end: bytes = b" HTTP/1.1") -> bytes:
    return b"GET " + target + line_end + b"\r\n" + HEADERS + headers + b"\r\n"


def post(target: bytes, headers: bytes, body: bytes = b"") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\n" + HEADERS + headers + b"\r\n" + body


# (what, request for a prefix, status, error code). Every one is answered by the gateway itself;
# status None is an HTTP/0.9 answer: the envelope alone, with no status line.
MALFORMED = [
    ("encoded NUL", lambda p: get(p + b"a%00b"), 400, "bad_request"),
    ("raw NUL", lambda p: get(p + b"a\x00b"), 400, "bad_request"),
    ("invalid escape", lambda p: get(p + b"a%zz"), 400, "bad_request"),
    ("lone percent sign", lambda p: get(p + b"a%"), 400, "bad_request"),
    ("truncated escape", lambda p: get(p + b"a%2"), 400, "bad_request"),
    ("dot segments above the root", lambda p: get(p + b"../.."), 400, "bad_request"),
    ("dot segment after an empty one", lambda p: get(p + b"/..%2f"), 400, "bad_request"),
    ("raw control character", lambda p: get(p + b"a\x01b"), 400, "bad_request"),
    ("raw DEL", lambda p: get(p + b"a\x7fb"), 400, "bad_request"),
    ("raw space", lambda p: get(p + b"a b"), 400, "bad_request"),
    ("raw non-ASCII bytes", lambda p: get(p + b"caf\xc3\xa9"), 400, "bad_request"),
    ("raw non-ASCII bytes in the query", lambda p: get(p + b"?q=\xff"), 400, "bad_request"),
    ("URI over the services' limit", lambda p: get(p + b"a" * 4100), 414, "uri_too_long"),
    ("URI over nginx's buffer", lambda p: get(p + b"a" * 20000), 414, "uri_too_long"),
    ("invalid method", lambda p: b"G@T " + p + b" HTTP/1.1\r\n" + HEADERS + b"\r\n", 400, "bad_request"),
    ("TRACE", lambda p: b"TRACE " + p + b" HTTP/1.1\r\n" + HEADERS + b"\r\n", 405, "method_not_allowed"),
    ("relative target", lambda p: get(b"a" + p), 400, "bad_request"),
    ("HTTP/0.9 request line", lambda p: b"GET " + p + b"\r\n", None, "bad_request"),
    ("HTTP/2.0 request line", lambda p: get(p, line_end=b" HTTP/2.0"), 400, "bad_request"),
    ("garbled version", lambda p: get(p, line_end=b" HTTP/1.x"), 400, "bad_request"),
    ("no Host on HTTP/1.1", lambda p: b"GET " + p + b" HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "bad_request"),
    ("two Host headers", lambda p: get(p, b"Host: other\r\n"), 400, "bad_request"),
    ("control character in a header name", lambda p: get(p, b"X\x01Y: 1\r\n"), 400, "bad_request"),
    ("folded header", lambda p: get(p, b"X-A: 1\r\n  folded\r\n"), 400, "bad_request"),
    ("header over nginx's buffer", lambda p: get(p, b"X-Big: " + b"a" * 20000 + b"\r\n"), 400, "bad_request"),
    ("header over the services' limit", lambda p: get(p, b"X-Big: " + b"a" * 8150 + b"\r\n"), 400, "bad_request"),
    ("headers over nginx's buffers", lambda p: get(p, b"".join(b"X-%d: a\r\n" % i for i in range(5000))),
     400, "bad_request"),
    ("unknown Transfer-Encoding", lambda p: post(p, b"Transfer-Encoding: gzip\r\n"), 400, "bad_request"),
    ("Transfer-Encoding and Content-Length",
     lambda p: post(p, b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"), 400, "bad_request"),
    ("invalid chunk", lambda p: post(p, b"Transfer-Encoding: chunked\r\n", b"zz\r\n\r\n"), 400, "bad_request"),
    ("invalid Content-Length", lambda p: post(p, b"Content-Length: -1\r\n"), 400, "bad_request"),
]


@pytest.mark.parametrize("prefix", [b"/auth/", b"/api/", b"/socket.io/", b"/"])
def test_malformed_requests_get_a_4xx_and_the_envelope_on_every_prefix(live_stack, prefix):
    """Whatever the gateway refuses itself it answers with a 4xx and the API's error envelope,
    never nginx's HTML page or a 5xx (it answered `%00`, `%zz` or `/..` with an HTML 500)."""
    wrong = []
    for what, request, status, code in MALFORMED:
        got_status, headers, body = exchange(live_stack.url, request(prefix))
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            error = {}
        expected_type = None if status is None else "application/json"
        if (got_status, headers.get("content-type"), error.get("code")) != (status, expected_type, code) \
                or not error.get("message"):
            wrong.append(f"{what}: {got_status} {headers.get('content-type')} {body[:80]!r}")
    assert not wrong, f"{len(wrong)} of {len(MALFORMED)} answered wrongly:\n" + "\n".join(wrong)


def test_paths_only_the_gateway_serves_are_404_with_the_envelope(live_stack):
    for path in ("/_attachments/x", "/__errors/400", "/__errors/nothing"):
        response = requests.get(live_stack.url + path, timeout=10)
        assert response.status_code == 404, (path, response.text[:200])
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_a_range_past_the_end_of_an_attachment_is_416_with_the_envelope(live_stack):
    """nginx sends attachment bytes itself, so it also answers a range it cannot satisfy."""
    user = new_user(live_stack.url, "ranger")
    uploaded = requests.post(f"{live_stack.url}/api/attachments", headers=user["headers"],
                             files={"file": ("ten.bin", b"0123456789")}, timeout=10)
    assert uploaded.status_code == 201, uploaded.text
    url = live_stack.url + uploaded.json()["attachment"]["url"]
    part = requests.get(url, headers={**user["headers"], "Range": "bytes=2-4"}, timeout=10)
    assert (part.status_code, part.content) == (206, b"234")
    past_the_end = requests.get(url, headers={**user["headers"], "Range": "bytes=100-"}, timeout=10)
    assert past_the_end.status_code == 416
    assert past_the_end.headers["Content-Type"] == "application/json"
    assert past_the_end.json()["error"]["code"] == "range_not_satisfiable"
    assert past_the_end.headers["Content-Range"] == "bytes */10"


@pytest.mark.parametrize("path, status", [
    (b"/auth/me", 401), (b"/api/conversations", 401), (b"/socket.io/?EIO=4&transport=polling", 200), (b"/login", 200),
])
def test_a_request_with_hundreds_of_headers_reaches_its_service(live_stack, path, status):
    """gunicorn refused more than 100 header fields with its HTML 431; the only bound is the
    gateway's on the size of the headers."""
    got, headers, body = exchange(live_stack.url, get(path, b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(300))))
    assert got == status, (got, body[:200])
