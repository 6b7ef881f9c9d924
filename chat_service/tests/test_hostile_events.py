"""Hostile Socket.IO events on a real gunicorn instance, over WebSocket and long-polling.

A client that resends until acknowledged must get an answer to every event, whatever it sent, on a
socket that stays usable: events nested thousands of levels deep, larger than the event limit, of an
unknown or reserved name, with numbers too long to read. A packet that is not Socket.IO at all closes
the connection cleanly (the client sees it and reconnects) rather than leaving it waiting.
"""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest

from shared.raw_socketio import PollingClient, WebSocketClient

from .test_system import befriend_across, one_instance, user

pytestmark = pytest.mark.system

EVENT_LIMIT = 64 * 1024  # MAX_CONTENT_LENGTH, the default
TRANSPORT_LIMIT = 2 * EVENT_LIMIT
ACK_IDS = itertools.count(1)
CLIENTS = {"websocket": WebSocketClient, "polling": PollingClient}


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with one_instance(tmp_path_factory.mktemp("hostile")) as port:
        url = f"http://127.0.0.1:{port}"
        alice, bob = user(7001, "alice7001"), user(7002, "bob7002")
        conversation_id = befriend_across(SimpleNamespace(url=url), SimpleNamespace(url=url), alice, bob)
        yield SimpleNamespace(url=url, alice=alice, conversation_id=conversation_id)


@pytest.fixture(params=sorted(CLIENTS))
def transport(request) -> str:
    return request.param


@pytest.fixture
def client(instance, transport):
    client = CLIENTS[transport](instance.url)
    assert client.connect({"token": instance.alice["token"]}).startswith("0{")
    yield client
    client.close()


def call(client, name_and_data: str) -> dict:
    """Send `42<id>` + the text as it is; the acknowledgement."""
    ack_id = next(ACK_IDS)
    client.send(f"2{ack_id}{name_and_data}")
    return client.ack(ack_id)


def send_normally(client, instance) -> None:
    """The socket is still usable: an ordinary message is stored and acknowledged."""
    ack = call(client, json.dumps(["send", {"conversation_id": instance.conversation_id, "text": "still here",
                                            "client_id": f"after-{next(ACK_IDS)}"}]))
    assert ack["ok"] is True and ack["message"]["text"] == "still here", ack


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [1000, 5000])
def test_a_deeply_nested_event_is_answered_bad_request_and_the_socket_stays(client, instance, levels):
    for event in (f'["send",{nested(levels)}]',
                  f'["send",{{"conversation_id":{instance.conversation_id},"text":{nested(levels)}}}]'):
        ack = call(client, event)
        assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack
        assert "nested" in ack["error"]["message"]
    send_normally(client, instance)


def test_an_event_over_the_event_limit_is_answered_payload_too_large_and_the_socket_stays(client, instance,
                                                                                          transport):
    text = "x" * (EVENT_LIMIT + 1000)  # under the transport's limit
    ack = call(client, json.dumps(["send", {"conversation_id": instance.conversation_id, "text": text,
                                            "client_id": "too-large"}]))
    assert ack["ok"] is False and ack["error"]["code"] == "payload_too_large", ack
    send_normally(client, instance)
    if transport == "websocket":
        # Over the transport's limit a message is not even read: the WebSocket closes with 1009. (A
        # long-polling POST that large gets 413 from the gateway: tests/system/test_socket_fuzz.py.)
        client.send(f'2{next(ACK_IDS)}["send",{{"text":"{"x" * TRANSPORT_LIMIT}"}}]')
        closed = client.closing()
        assert closed.clean and closed.code == 1009, closed


@pytest.mark.parametrize("event, code", [
    ('["no_such_event",{}]', "not_found"),
    ('["disconnect"]', "not_found"),  # a reserved name never reaches the server's own handler
    ('["connect",{"token":"x"}]', "not_found"),
    ('["send",{"conversation_id":' + "9" * 200 + '}]', "bad_request"),
    ('["send",{"conversation_id":NaN}]', "bad_request"),
    ('{"send":{}}', "bad_request"),
    ('[17,{}]', "bad_request"),
    ('["send",{"conversation_id":', "bad_request"),
])
def test_an_event_the_server_cannot_handle_is_answered_and_the_socket_stays(client, instance, event, code):
    ack = call(client, event)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    send_normally(client, instance)


def test_a_binary_event_with_a_placeholder_that_names_no_attachment_is_answered(client, instance):
    ack_id = next(ACK_IDS)
    client.send(f'51-{ack_id}["send",{{"text":{{"_placeholder":true,"num":3}}}}]')
    client.send_engineio(b"\x00\x01")
    ack = client.ack(ack_id)
    assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack
    send_normally(client, instance)


@pytest.mark.parametrize("packets", [
    ["9"],  # no such packet type
    ["4" + json.dumps({"message": "x"})],  # CONNECT_ERROR comes from servers only
    ["2" + "1" * 101 + '["send",{}]'],  # an ack id of over 100 digits
    ['2/admin,5["send",{}]'],  # a namespace this server does not serve
    ['5-5["send",{}]'],  # a binary event without attachments
    ['599-5["send",{}]'],  # ... or with too many
    ['51-5["send",{"text":{"_placeholder":true,"num":0}}]', "not an attachment"],
    ["3" + "5" + '{"not":"a list"}'],
], ids=["type", "connect-error", "ack-id", "namespace", "no-attachments", "attachments", "text-attachment", "ack"])
def test_a_packet_that_is_not_socketio_closes_the_connection_cleanly(client, packets):
    for packet in packets:
        client.send(packet)
    closed = client.closing()
    assert closed.clean, closed


def test_an_event_before_connect_closes_the_connection_cleanly(instance, transport):
    client = CLIENTS[transport](instance.url)
    try:
        client.send('21["send",{}]')
        closed = client.closing()
        assert closed.clean, closed
    finally:
        client.close()
