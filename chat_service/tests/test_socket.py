"""Socket.IO events with Flask-SocketIO's test client: who gets what, and nobody else."""

import time

import pytest

from chat_service.state import EXTENSION
from shared import jwt

from shared.testing import wait_until

from .conftest import make_token


@pytest.fixture
def connect(app, socketio, client):
    opened = []

    def _connect(user=None, *, token=None, **kwargs):
        auth = {"token": token or user.token} if (user or token) else None
        sock = socketio.test_client(app, auth=auth, **kwargs)
        opened.append(sock)
        return sock

    yield _connect
    for sock in opened:
        if sock.is_connected():
            sock.disconnect()


def events(sock):
    """(name, payload) of everything received since the last call."""
    # The test client unwraps the arguments of an event called "message".
    return [(e["name"], e["args"] if e["name"] == "message" else e["args"][0]) for e in sock.get_received()]


def test_connect_needs_a_valid_token(connect, auth):
    alice = auth.user("alice")
    record = {"id": alice.id, "username": alice.username, "created_at": alice.created_at}
    other_ring = jwt.KeyRing.from_spec("other:" + "z" * 48)
    assert not connect().is_connected()
    assert not connect(token="not-a-jwt").is_connected()
    assert not connect(token=make_token(record, ring=other_ring)).is_connected()
    assert not connect(token=make_token(record, lifetime=-120)).is_connected()
    assert not connect(token=make_token(record, typ="refresh")).is_connected()
    assert connect(alice).is_connected()


def test_the_handshake_applies_the_same_leeway_as_rest(client, connect, auth):
    """A token expired 3 s ago is inside the one leeway (5 s) for both; 10 s ago, outside it for both."""
    alice = auth.user("alice")
    record = {"id": alice.id, "username": alice.username, "created_at": alice.created_at}
    now = int(time.time())
    just_late = make_token(record, lifetime=60, now=now - 63)
    too_late = make_token(record, lifetime=60, now=now - 70)
    assert client.get("/api/friends", headers={"Authorization": f"Bearer {just_late}"}).status_code == 200
    late_socket = connect(token=just_late)
    assert late_socket.is_connected()
    # Its events are accepted too, until the leeway runs out.
    assert late_socket.emit("typing", {"conversation_id": 999999}, callback=True)["error"]["code"] != "unauthorized"
    assert client.get("/api/friends", headers={"Authorization": f"Bearer {too_late}"}).status_code == 401
    assert not connect(token=too_late).is_connected()


def test_connect_refusal_tells_expired_from_invalid(app, auth):
    from flask_socketio import ConnectionRefusedError

    alice = auth.user("alice")
    record = {"id": alice.id, "username": alice.username, "created_at": alice.created_at}
    handler = app.extensions[EXTENSION].socketio.server.handlers["/"]["connect"]
    cases = [({"token": make_token(record, lifetime=-120)}, "token_expired"), ({"token": "x.y.z"}, "invalid_token"),
             (None, "invalid_token")]
    for auth_data, code in cases:
        with app.test_request_context("/socket.io/"):
            with pytest.raises(ConnectionRefusedError) as refused:
                handler.__wrapped__(auth_data) if hasattr(handler, "__wrapped__") else handler(auth_data)
        assert refused.value.error_args["message"] == "unauthorized"
        assert refused.value.error_args["data"]["code"] == code


def test_connect_with_cookie(app, socketio, client, auth):
    alice = auth.user("alice")
    client.set_cookie("access_token", alice.token)
    sock = socketio.test_client(app, flask_test_client=client)
    assert sock.is_connected()
    sock.disconnect()


def test_send_reaches_every_connection_of_every_member_once(connect, client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id = auth.befriend(alice, bob)
    a1, a2, b1, c1 = connect(alice), connect(alice), connect(bob), connect(carol)
    for sock in (a1, a2, b1, c1):
        sock.get_received()
    ack = a1.emit("send", {"conversation_id": conversation_id, "text": "hi", "client_id": "k1"}, callback=True)
    assert ack["ok"] is True
    message = ack["message"]
    assert message["text"] == "hi" and message["sender"] == alice.payload and message["client_id"] == "k1"
    for sock in (a1, a2, b1):
        assert events(sock) == [("message", message)]
    assert events(c1) == []
    stored = client.get(f"/api/conversations/{conversation_id}/messages", headers=bob.headers).get_json()
    assert stored["messages"] == [{key: value for key, value in message.items() if key != "previous_id"}]

    # Resend after a lost ack: same message, no second broadcast.
    again = a1.emit("send", {"conversation_id": conversation_id, "text": "hi", "client_id": "k1"}, callback=True)
    assert again == {"ok": True, "message": message, "created": False}
    for sock in (a1, a2, b1, c1):
        assert events(sock) == []

    # REST sends are broadcast the same way.
    rest = auth.send(bob, conversation_id, "via rest")
    assert rest["previous_id"] == message["id"]  # what tells a client it has missed nothing
    for sock in (a1, a2, b1):
        assert events(sock) == [("message", rest)]


def test_send_errors_come_back_in_the_ack(connect, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id = auth.befriend(alice, bob)
    c1, b1 = connect(carol), connect(bob)
    b1.get_received()
    cases = [
        (c1, {"conversation_id": conversation_id, "text": "x"}, "not_found"),
        (c1, {"conversation_id": 999999, "text": "x"}, "not_found"),
        (b1, {"conversation_id": conversation_id, "text": "  "}, "validation_error"),
        (b1, {"conversation_id": conversation_id, "text": "x" * 4001}, "validation_error"),
        (b1, {"conversation_id": "1", "text": "x"}, "validation_error"),
        (b1, {"conversation_id": 2**80, "text": "x"}, "validation_error"),
        (b1, {"conversation_id": conversation_id, "text": "x", "client_id": 12}, "validation_error"),
        (b1, ["not", "an", "object"], "bad_request"),
    ]
    for sock, data, code in cases:
        ack = sock.emit("send", data, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == code, (data, ack)
        assert ack["error"]["message"]
    assert events(b1) == []


def test_a_refused_event_names_the_bad_fields_like_rest(connect, auth, client):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    body = {"conversation_id": conversation_id, "text": 5, "client_id": "x" * 65}
    ack = connect(bob).emit("send", body, callback=True)
    rest = client.post(f"/api/conversations/{conversation_id}/messages", json=body, headers=bob.headers)
    assert rest.status_code == 422
    assert ack == {"ok": False, **rest.get_json()}
    assert set(ack["error"]["fields"]) == {"text", "client_id"}  # every bad field at once


def test_typing_and_read_go_to_the_other_members_only(connect, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id = auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    a1, a2, b1, c1 = connect(alice), connect(alice), connect(bob), connect(carol)
    message = auth.send(bob, conversation_id, "hello")
    for sock in (a1, a2, b1, c1):
        sock.get_received()

    assert a1.emit("typing", {"conversation_id": conversation_id}, callback=True) == {"ok": True}
    assert events(b1) == [("typing", {"conversation_id": conversation_id, "user": alice.payload})]
    assert events(a1) == events(a2) == events(c1) == []

    ack = a1.emit("read", {"conversation_id": conversation_id, "message_id": message["id"]}, callback=True)
    assert ack == {"ok": True}
    assert events(b1) == [("read", {"conversation_id": conversation_id, "user_id": alice.id,
                                    "message_id": message["id"]})]
    assert events(a1) == events(a2) == events(c1) == []
    # Reading the same message again moves nothing and tells nobody.
    assert a1.emit("read", {"conversation_id": conversation_id, "message_id": message["id"]},
                   callback=True) == {"ok": True}
    assert events(b1) == []

    assert c1.emit("typing", {"conversation_id": conversation_id}, callback=True)["error"]["code"] == "not_found"
    bad = a1.emit("read", {"conversation_id": conversation_id, "message_id": "x"}, callback=True)
    assert bad["error"]["code"] == "validation_error"
    assert events(b1) == []


def test_presence_goes_to_friends_on_first_open_and_last_close(connect, client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    a1, c1 = connect(alice), connect(carol)
    a1.get_received(), c1.get_received()
    b1 = connect(bob)
    assert events(a1) == [("presence", {"user_id": bob.id, "online": True})]
    friends = client.get("/api/friends", headers=alice.headers).get_json()["friends"]
    assert friends == [{**bob.payload, "online": True}]
    b2 = connect(bob)
    assert events(a1) == []
    b1.disconnect()
    assert events(a1) == []
    b2.disconnect()
    assert events(a1) == [("presence", {"user_id": bob.id, "online": False})]
    assert events(c1) == []
    assert client.get("/api/friends", headers=alice.headers).get_json()["friends"][0]["online"] is False


def test_friend_events(connect, client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    a1, b1, c1 = connect(alice), connect(bob), connect(carol)
    for sock in (a1, b1, c1):
        sock.get_received()
    request = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).get_json()["request"]
    assert events(b1) == [("friend_request", request)]
    assert events(a1) == events(c1) == []

    accepted = client.post(f"/api/friend-requests/{request['id']}/accept", headers=bob.headers).get_json()
    conversation_id = accepted["conversation_id"]
    a_events, b_events = dict(events(a1)), dict(events(b1))
    assert a_events["friend_added"] == {"friend": bob.payload, "conversation_id": conversation_id}
    assert b_events["friend_added"] == {"friend": alice.payload, "conversation_id": conversation_id}
    for got in (a_events, b_events):
        assert got["conversation"]["id"] == conversation_id and got["conversation"]["kind"] == "direct"
    assert events(c1) == []

    auth.befriend(alice, carol)
    for sock in (a1, b1, c1):
        sock.get_received()
    group = client.post("/api/conversations", json={"title": "g", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]
    for sock in (a1, b1, c1):
        assert events(sock) == [("conversation", group)]


def test_removed_friend_gets_no_presence_and_cannot_send(connect, client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    a1 = connect(alice)
    assert client.delete("/api/friends/bob", headers=alice.headers).status_code == 204
    a1.get_received()
    b1 = connect(bob)
    assert events(a1) == []
    b1.get_received()
    ack = b1.emit("send", {"conversation_id": conversation_id, "text": "still there?"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    typing = b1.emit("typing", {"conversation_id": conversation_id}, callback=True)
    assert typing["error"]["code"] == "forbidden"
    b1.disconnect()
    assert events(a1) == []


def test_socket_does_not_outlive_its_token(app, connect, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    # Tokens count whole seconds from a truncated `iat`: pick when the token stops being accepted
    # (its exp plus the leeway), a few seconds ahead, so a slow connect cannot find it already spent.
    expires_at = int(time.time()) + 3
    short = make_token({"id": alice.id, "username": "alice", "created_at": alice.created_at},
                       lifetime=3, now=expires_at - 3 - jwt.DEFAULT_LEEWAY_SECONDS)
    sock, idle = connect(token=short), connect(token=short)
    keeper = connect(bob)
    assert sock.is_connected() and idle.is_connected()
    time.sleep(max(0.0, expires_at + 0.1 - time.time()))
    ack = sock.emit("send", {"conversation_id": conversation_id, "text": "late"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "unauthorized"
    wait_until(lambda: not sock.is_connected(), 3, "the server to disconnect the expired socket")
    # The sweep closes idle sockets with spent tokens and leaves live ones alone.
    assert idle.is_connected()
    app.extensions[EXTENSION].maintenance.run_once()
    assert not idle.is_connected() and keeper.is_connected()
