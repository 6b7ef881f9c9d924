"""Outgoing Socket.IO packets: JSON events stay text, anything holding bytes goes binary."""

from socketio import packet as socketio_packet

from chat_service.realtime import packets

MESSAGE = {"id": 7, "conversation_id": 3, "sender": {"id": 1, "username": "alice", "deleted": False},
           "text": "hi", "reactions": [{"emoji": "👍", "user_ids": [1, 2]}], "reply_to": None, "attachments": []}


def test_a_message_event_is_sent_as_text(app):
    encoded = socketio_packet.Packet(socketio_packet.EVENT, data=["message", MESSAGE], namespace="/").encode()
    assert isinstance(encoded, str) and encoded.startswith('2["message",')


def test_bytes_anywhere_in_lists_or_dicts_make_a_binary_event(app):
    for data in (["file", b"\x00"], ["file", {"parts": [1, {"blob": bytearray(b"x")}]}]):
        sent = socketio_packet.Packet(socketio_packet.EVENT, data=data, namespace="/")
        assert sent.packet_type == socketio_packet.BINARY_EVENT
        assert len(sent.encode()) == 2  # the event with a placeholder, then the bytes
    # As python-socketio's own check, tuples are not searched.
    assert packets.data_is_binary(socketio_packet.Packet, ["x", (b"y",)]) is False
