"""chat_service/realtime/websocket.py: the WebSocket engine.io uses under gunicorn's gevent worker.

Frame-level behaviour is checked over a socket pair with wsproto as the client (fragments, control
frames, sizes, closing); test_system.py and tests/system run engine.io and Socket.IO over it on real
gunicorn instances; the last two here check the upgrade, the size limit and the idle close on one."""

from __future__ import annotations

import json
import socket
import time

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.extensions import PerMessageDeflate

from chat_service.realtime.websocket import WebSocket

from .test_system import RawClient, one_instance, user

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example: its accept token is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=


class FakeEngineIO:
    max_http_buffer_size = 1024


def upgrade_environ(sock, **headers) -> dict:
    environ = {"REQUEST_METHOD": "GET", "gunicorn.socket": sock, "HTTP_UPGRADE": "websocket",
               "HTTP_CONNECTION": "keep-alive, Upgrade", "HTTP_SEC_WEBSOCKET_VERSION": "13",
               "HTTP_SEC_WEBSOCKET_KEY": KEY}
    environ.update(headers)
    return {key: value for key, value in environ.items() if value is not None}


def serve(client_sends: list, handler, extensions=None, **headers) -> tuple[list, bytes]:
    """Run one upgrade with the client's frames (events, or bytes as they are) already on the wire; what `handler(ws)` returned and
    every byte the server wrote (the 101 response, then frames)."""
    server_end, client_end = socket.socketpair()
    client = Connection(ConnectionType.CLIENT, extensions)
    client_end.sendall(b"".join(event if isinstance(event, bytes) else client.send(event) for event in client_sends))
    client_end.shutdown(socket.SHUT_WR)  # the client is done sending: a read past its frames sees the end
    results = []
    try:
        with pytest.raises(StopIteration):  # gunicorn must not write a response of its own
            WebSocket(lambda ws: results.append(handler(ws)), FakeEngineIO())(
                upgrade_environ(server_end, **headers), lambda *args: None)
    finally:
        server_end.close()
    written = b""
    while chunk := client_end.recv(65536):
        written += chunk
    client_end.close()
    return results[0], written


def server_events(written: bytes, extensions=None) -> list:
    """The frames the server wrote after its 101 response, as events."""
    head, _, frames = written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    client = Connection(ConnectionType.CLIENT, extensions)
    client.receive_data(frames)
    return list(client.events())


def read_all(ws) -> list:
    messages = []
    while (message := ws.wait()) is not None:
        messages.append(message)
    return messages


def test_the_handshake_answers_101_with_the_accept_token_and_hands_over_the_socket():
    _, written = serve([], lambda ws: ws._sock.gettimeout())
    head = written.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 101 Switching Protocols"
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert not any(line.startswith(b"Sec-WebSocket-Extensions") for line in head)


@pytest.mark.parametrize(("headers", "status"), [
    ({"HTTP_UPGRADE": None}, "400 Bad Request"),
    ({"HTTP_CONNECTION": "keep-alive"}, "400 Bad Request"),
    ({"HTTP_SEC_WEBSOCKET_KEY": None}, "400 Bad Request"),
    ({"HTTP_SEC_WEBSOCKET_VERSION": "8"}, "426 Upgrade Required"),
])
def test_a_request_that_is_not_a_websocket_upgrade_gets_an_http_error(headers, status):
    server_end, client_end = socket.socketpair()
    answered = []
    ran = []
    body = WebSocket(ran.append, FakeEngineIO())(upgrade_environ(server_end, **headers),
                                                 lambda *args: answered.append(args))
    assert list(body) == [] and ran == []
    assert answered[0][0] == status
    server_end.close()
    assert client_end.recv(100) == b""  # nothing written on the socket: gunicorn sends the response
    client_end.close()


def test_a_fragmented_message_is_reassembled_and_pings_between_fragments_are_answered():
    sends = [
        Message(data="40{\"token\":", message_finished=False),
        Ping(payload=b"are you there"),
        Message(data=" \"é\"}", message_finished=False),
        Message(data="", message_finished=True),
        Message(data=b"\x01\x02", message_finished=False),
        Message(data=b"\x03", message_finished=True),
        Message(data="3"),
    ]
    messages, written = serve(sends, read_all)
    assert messages == ["40{\"token\": \"é\"}", b"\x01\x02\x03", "3"]
    events = server_events(written)
    assert isinstance(events[0], Pong) and events[0].payload == b"are you there"


def test_the_clients_close_is_answered_and_ends_the_connection():
    late = Connection(ConnectionType.CLIENT).send(Message(data="late"))  # a frame no client should send
    messages, written = serve([Message(data="3"), CloseConnection(code=1000, reason="bye"), late], read_all)
    assert messages == ["3"]  # nothing after the close is read
    events = server_events(written)
    assert len(events) == 1 and isinstance(events[0], CloseConnection) and events[0].code == 1000


def test_a_message_over_the_size_limit_closes_the_connection_with_1009():
    limit = FakeEngineIO.max_http_buffer_size
    sends = [Message(data="x" * limit), Message(data="x" * 600, message_finished=False),
             Message(data="x" * 600, message_finished=True), Message(data="never read")]
    messages, written = serve(sends, read_all)
    assert messages == ["x" * limit]  # exactly the limit is allowed
    events = server_events(written)
    assert len(events) == 1 and isinstance(events[0], CloseConnection) and events[0].code == 1009


def test_a_connection_that_ends_without_a_close_frame_reads_as_closed():
    messages, _ = serve([Message(data="40")], read_all)  # then EOF
    assert messages == ["40"]


def test_text_and_binary_are_sent_as_such_and_a_closed_connection_refuses_to_send():
    def handler(ws):
        ws.send("2")
        ws.send(b"\x00\xff")
        ws.close()
        ws.close()  # a second close is harmless (engine.io's writer and handler may both close)
        with pytest.raises(OSError):
            ws.send("too late")
        return ws.wait()

    result, written = serve([CloseConnection(code=1000)], handler)
    assert result is None
    events = server_events(written)
    assert [type(e) for e in events] == [TextMessage, BytesMessage, CloseConnection]
    assert events[0].data == "2" and events[1].data == b"\x00\xff"


def test_permessage_deflate_is_agreed_when_offered_and_both_directions_are_compressed():
    offer = "permessage-deflate; client_max_window_bits"
    sends = [Message(data="42[\"send\"," + "\"hello\"," * 40 + "1]")]

    def handler(ws):
        ws.send("42[\"message\"," + "\"hi\"," * 40 + "1]")
        return ws.wait()

    message, written = serve(sends, handler, extensions=[PerMessageDeflate()], HTTP_SEC_WEBSOCKET_EXTENSIONS=offer)
    assert message == "42[\"send\"," + "\"hello\"," * 40 + "1]"
    head, _, frames = written.partition(b"\r\n\r\n")
    assert b"Sec-WebSocket-Extensions: permessage-deflate" in head
    assert len(frames) < 100  # compressed: the text is 176 bytes
    client_deflate = PerMessageDeflate()
    client_deflate.finalize(head.split(b"Sec-WebSocket-Extensions: ")[1].split(b"\r\n")[0].decode())
    events = server_events(written, [client_deflate])
    assert events[0].data == "42[\"message\"," + "\"hi\"," * 40 + "1]"


@pytest.mark.system
def test_on_gunicorn_socketio_connects_over_fragments_and_an_oversize_message_closes_with_1009(tmp_path):
    with one_instance(tmp_path, MAX_CONTENT_LENGTH="2048") as port:
        client = RawClient(port)
        assert client.next_of(TextMessage).data.startswith("0{")  # engine.io's open packet
        connect = "40" + json.dumps({"token": user(1, "alice")["token"]})
        client.send(Message(data=connect[:5], message_finished=False), Ping(payload=b"p"),
                    Message(data=connect[5:], message_finished=True))
        assert client.next_event() == Pong(payload=b"p")
        assert client.next_of(TextMessage).data.startswith("40{\"sid\"")
        # Over the transport's limit, twice MAX_CONTENT_LENGTH (an event between the two is answered
        # payload_too_large: test_hostile_events.py).
        client.send(Message(data="42" + json.dumps(["typing", {"pad": "x" * 4096}])))
        closed = client.next_of(CloseConnection)
        assert closed.code == 1009
        client.close()


@pytest.mark.system
def test_on_gunicorn_a_client_that_answers_no_ping_is_closed_after_interval_and_timeout(tmp_path):
    """engine.io's idle close (ping interval + ping timeout without a word from the client) is the
    WebSocket read's timeout now that no writer greenlet waits on each socket (writer.py)."""
    with one_instance(tmp_path, PING_INTERVAL="5", PING_TIMEOUT="5") as port:
        client = RawClient(port)
        assert client.receive_text().startswith("0{")
        client.send_text("40" + json.dumps({"token": user(1, "alice")["token"]}))
        assert client.receive_text().startswith("40{")
        last_word = time.monotonic()
        assert client.next_of(TextMessage, timeout=7).data == "2"  # a ping, left unanswered
        client.next_of(CloseConnection, timeout=12)  # engine.io's close packet may come first
        assert 10 - 0.5 <= time.monotonic() - last_word <= 10 + 2
        client.close()

