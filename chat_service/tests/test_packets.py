"""Outgoing Socket.IO packets: JSON events stay text, anything holding bytes goes binary."""

from socketio import packet as socketio_packet

from chat_service.realtime.packets import Packet

MESSAGE = {"id": 7, "conversation_id": 3, "sender": {"id": 1, "username": "alice", "deleted": False},
           "text": "hi", "reactions": [{"emoji": "👍", "user_ids": [1, 2]}], "reply_to": None, "attachments": []}


def test_a_message_event_is_sent_as_text():
    encoded = Packet(socketio_packet.EVENT, data=["message", MESSAGE], namespace="/").encode()
    assert isinstance(encoded, str) and encoded.startswith('2["message",')


def test_bytes_anywhere_in_lists_or_dicts_make_a_binary_event_as_in_python_socketio():
    for data in (["file", b"\x00"], ["file", {"parts": [1, {"blob": bytearray(b"x")}]}]):
        ours = Packet(socketio_packet.EVENT, data=data, namespace="/")
        assert ours.packet_type == socketio_packet.BINARY_EVENT
        assert ours.encode()[1:] == socketio_packet.Packet(socketio_packet.EVENT, data=data, namespace="/").encode()[1:]
    # Neither looks inside tuples.
    assert Packet.data_is_binary(["x", (b"y",)]) is socketio_packet.Packet.data_is_binary(["x", (b"y",)]) is False
