"""Socket.IO packets from clients: every event is answered, a packet that cannot be read closes.

python-socketio reads a packet's JSON with `json.loads` and lets any error out of its engine.io
message handler, where engine.io logs it and drops the packet: an event nested ~1,000 levels deep
(RecursionError), a number of 5,000 digits (ValueError), an event that is not a list, a binary event
whose attachments never come or point nowhere, all went unanswered, and a client that resends until
acknowledged waited forever. Here, through python-socketio's `serializer=` option:

- An event whose header reads (type, attachment count, namespace, ack id) always reaches a handler.
  When its payload cannot be used -- larger than the event limit, malformed JSON, nested deeper
  than `MAX_DEPTH`, a number longer than `MAX_DIGITS`, not `[name, ...]`, a reserved name, a bad
  attachment placeholder -- the event becomes `REFUSED_EVENT` carrying the error, which the handler
  acknowledges (handlers.py). Without an ack id nothing is answered, as for any invalid event.
- A packet that cannot be read as Socket.IO (its header, a type clients never send, a namespace this
  server does not serve, a non-event payload that is no JSON, text where a binary attachment is due)
  or that comes before the connection's CONNECT closes the connection, as the Socket.IO reference
  server does on a parse error: the client sees it closed and reconnects instead of waiting.

Sizes: engine.io's `max_http_buffer_size` is the transport's limit (a larger WebSocket message closes
with 1009, the gateway refuses a larger long-polling POST with 413); events are limited to
`max_event_size` below it, so one between the two is answered `payload_too_large` and the connection
stays.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import socketio
from socketio import packet

from shared.errors import ApiError, BadRequest, NotFound, PayloadTooLarge

log = logging.getLogger(__name__)

# Far below what exhausts the stack (~1,000 levels in the C parser) and far above any event's shape.
MAX_DEPTH = 64
# Digits of a JSON number: Python refuses integers over 4,300 digits with a ValueError, and no id or
# count needs more than a few.
MAX_DIGITS = 100
# As python-socketio's parser (a longer ack id is an error there too) and Socket.IO's.
MAX_ACK_ID_DIGITS = 100
# No event of this server takes binary data; the count only bounds what a client may announce.
MAX_ATTACHMENTS = 10


class UnreadableJson(ValueError):
    """A payload that is not JSON this server reads (malformed, too deep, too long a number)."""


class UnreadablePacket(ValueError):
    """A packet that cannot be read as Socket.IO: the connection that sent it is closed."""


class _RefusedEvent:
    """The name an event with an unusable payload is delivered under: an object, so no client's
    event name can ever equal it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<refused event>"

    __str__ = __repr__


REFUSED_EVENT = _RefusedEvent()

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENERS = "[{"


def _number(kind: type):
    def parse(literal: str):
        if len(literal) > MAX_DIGITS:
            raise UnreadableJson(f"A number is longer than {MAX_DIGITS} characters.")
        return kind(literal)
    return parse


def _constant(name: str):
    raise UnreadableJson(f"{name} is not JSON.")


_decoder = json.JSONDecoder(parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)


class EventJson:
    """JSON as clients may send it: bounded in depth and number length, strict (no NaN)."""

    @staticmethod
    def depth(text: str) -> int:
        """How deeply arrays and objects nest in `text` (strings skipped), without recursing."""
        brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
        deepest = level = 0
        for char in brackets:
            if char in _OPENERS:
                level += 1
                if level > deepest:
                    deepest = level
            else:
                level -= 1
        return deepest

    @classmethod
    def loads(cls, text: str) -> Any:
        # Counting brackets is enough for nearly every event: fewer openers than MAX_DEPTH cannot
        # nest deeper. Only then is the nesting measured.
        if text.count("[") + text.count("{") > MAX_DEPTH and cls.depth(text) > MAX_DEPTH:
            raise UnreadableJson(f"The event is nested more than {MAX_DEPTH} levels deep.")
        try:
            return _decoder.decode(text)
        except UnreadableJson:
            raise
        except (ValueError, RecursionError) as error:
            raise UnreadableJson("The event is not valid JSON.") from error


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class EventPacket(packet.Packet):
    """python-socketio's packet, reading what clients send as described in the module's docstring.
    Outgoing packets are encoded as before. `limited_to` makes the class of one server."""

    max_event_size = 64 * 1024
    namespaces = frozenset({"/"})

    @classmethod
    def limited_to(cls, max_event_size: int) -> type[EventPacket]:
        return type(cls.__name__, (cls,), {"max_event_size": max_event_size})

    def decode(self, encoded_packet):
        if not isinstance(encoded_packet, str) or not encoded_packet:
            raise UnreadablePacket("A Socket.IO packet is text.")
        kind = encoded_packet[0]
        if kind not in "0123456":
            raise UnreadablePacket("Unknown packet type.")
        self.packet_type = int(kind)
        self.namespace = None
        self.data = None
        self.id = None
        self.text = encoded_packet
        rest, attachments = encoded_packet[1:], 0
        if self.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK):
            count, dash, rest = rest.partition("-")
            if not dash or not count.isdigit() or len(count) > 2 or not 1 <= int(count) <= MAX_ATTACHMENTS:
                raise UnreadablePacket(f"A binary packet has 1 to {MAX_ATTACHMENTS} attachments.")
            attachments = int(count)
        if rest.startswith("/"):
            namespace, comma, after = rest.partition(",")
            self.namespace = namespace.partition("?")[0]
            rest = after if comma else ""
        if self.packet_type != packet.CONNECT and (self.namespace or "/") not in self.namespaces:
            raise UnreadablePacket("A namespace this server does not serve.")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits:
            if digits > MAX_ACK_ID_DIGITS:
                raise UnreadablePacket(f"An ack id is longer than {MAX_ACK_ID_DIGITS} digits.")
            self.id, rest = int(rest[:digits]), rest[digits:]
        if self.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            self.data = self._event(rest)
        elif self.packet_type == packet.CONNECT_ERROR:
            raise UnreadablePacket("Clients do not send CONNECT_ERROR.")
        elif rest:
            if self.over_limit(encoded_packet):
                raise UnreadablePacket("A packet over the size limit.")
            try:
                self.data = EventJson.loads(rest)
            except UnreadableJson as error:
                raise UnreadablePacket(str(error)) from None
            if self.packet_type in (packet.ACK, packet.BINARY_ACK) and not isinstance(self.data, list):
                raise UnreadablePacket("An ack's data is a list.")
        return attachments

    def _event(self, payload: str) -> list:
        """`[name, *args]`, or `[REFUSED_EVENT, error]` when the event cannot be handled."""
        if self.over_limit(self.text):
            return self.refused(PayloadTooLarge(f"An event is at most {self.max_event_size} bytes."))
        try:
            data = EventJson.loads(payload)
        except UnreadableJson as error:
            return self.refused(BadRequest(str(error)))
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            return self.refused(BadRequest("An event is a list: its name, then its data."))
        if data[0] in socketio.Server.reserved_events:
            # Else python-socketio would run the server's own connect or disconnect handler.
            return self.refused(NotFound("There is no such event."))
        return data

    def over_limit(self, text: str) -> bool:
        """Whether the packet's text is over the event limit in UTF-8 bytes; measured only when its
        length in characters leaves doubt (a character is 1 to 4 bytes)."""
        if len(text) > self.max_event_size:
            return True
        return len(text) * 4 > self.max_event_size and _utf8_size(text) > self.max_event_size

    @staticmethod
    def refused(error: ApiError) -> list:
        return [REFUSED_EVENT, error]

    def add_attachment(self, attachment):
        if not isinstance(attachment, bytes):
            raise UnreadablePacket("A binary attachment was due, text came.")
        if len(self.attachments) >= self.attachment_count:
            raise UnreadablePacket("An attachment nobody announced.")
        self.attachments.append(attachment)
        if len(self.attachments) < self.attachment_count:
            return False
        if self.data and self.data[0] is REFUSED_EVENT:
            return True
        if _utf8_size(self.text) + sum(map(len, self.attachments)) > self.max_event_size:
            self.data = self.refused(PayloadTooLarge(f"An event is at most {self.max_event_size} bytes."))
            return True
        try:
            self.data = self._placed(self.data, self.attachments)
        except UnreadableJson as error:
            self.data = self.refused(BadRequest(str(error)))
        return True

    @classmethod
    def _placed(cls, data: Any, attachments: list[bytes]) -> Any:
        """python-socketio's reconstruct_binary with placeholders checked, depth already bounded."""
        if isinstance(data, list):
            return [cls._placed(item, attachments) for item in data]
        if isinstance(data, dict):
            if data.get("_placeholder") is True and "num" in data:
                num = data["num"]
                if type(num) is not int or not 0 <= num < len(attachments):
                    raise UnreadableJson("A placeholder names no attachment.")
                return attachments[num]
            return {key: cls._placed(value, attachments) for key, value in data.items()}
        return data


def close_on_unreadable(server: socketio.Server) -> None:
    """Wrap the server's engine.io message handler: a packet that cannot be read, or anything but a
    CONNECT before the connection is connected, closes the connection (without waiting for a
    long-polling client to collect the close, which engine.io's `disconnect` would)."""
    deliver = server.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> None:
        connecting = isinstance(data, str) and data[:1] == "0"
        if not data or not isinstance(data, (str, bytes)):
            # Empty, or JSON engine.io decoded itself ("4null", "4{}"): python-socketio would take an
            # empty one for an event without data and fail on it.
            reason = "Not a Socket.IO packet."
        elif connecting or server.manager.sid_from_eio_sid(eio_sid, "/") is not None:
            try:
                deliver(eio_sid, data)
                return
            except ValueError as error:  # EventPacket's refusals and python-socketio's own
                reason = str(error)
        else:
            reason = "A packet before CONNECT."
        log.info("closing a Socket.IO connection: %s", reason)
        connection = server.eio.sockets.get(eio_sid)
        if connection is not None:
            connection.close(wait=False, reason=server.eio.reason.SERVER_DISCONNECT)

    server.eio.on("message", on_message)
