"""WebSockets for engine.io under gunicorn's gevent worker, read in the connection's own greenlet.

engine.io's gevent driver wraps simple-websocket, which starts a reader greenlet per connection that
reads the socket and hands whole messages to the connection's greenlet through a list and an event,
while the connection's greenlet (gunicorn's, running engine.io's `_websocket_handler`) only waits on
that event. On an instance holding thousands of idle WebSockets that is one greenlet with its saved
stack and its objects per socket for nothing (docs/benchmarks.md, "Memory per idle WebSocket").
Here `wait()` reads and parses the frames itself (wsproto, as simple-websocket does), in the greenlet
that called it, so a connection costs gunicorn's greenlet and this object (writer.py removes engine.io's
writer greenlet too).

The interface is the one engine.io uses: `WebSocket(handler, server)(environ, start_response)` runs
`handler(ws)`; `ws.wait()` returns the next message (str or bytes) or None once the connection is
closed; `ws.send(str | bytes)` raises OSError on a closed connection; `ws.close()`; engine.io sets
the socket timeout through the `_sock` attribute.
"""

from __future__ import annotations

import socket

from gevent.lock import Semaphore
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import server_extensions_handshake
from wsproto.utilities import ProtocolError, generate_accept_token, split_comma_header

RECEIVE_BYTES = 4096
WEBSOCKET_VERSION = "13"


class HandshakeError(ValueError):
    """The request is not a WebSocket upgrade this server accepts (answered 400 or 426)."""


class WebSocket:
    """One WebSocket connection; an instance per upgrade request, as engine.io's driver expects."""

    __slots__ = ("handler", "max_message_size", "_sock", "_conn", "_send_lock", "_parts", "_parts_len")

    def __init__(self, handler, server) -> None:
        self.handler = handler
        # engine.io checks a message's size only once it has been received whole; here a message
        # that grows past the limit closes the connection before more of it is buffered.
        self.max_message_size = server.max_http_buffer_size

    # -- the upgrade -----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if sock is None:
            raise RuntimeError("WebSocket upgrades need gunicorn's gevent worker (no gunicorn.socket in environ)")
        try:
            response, extensions = handshake(environ)
        except HandshakeError as error:
            status, headers = error.args
            start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0"), *headers])
            return []
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # One frame per write (engine.io's writer sends packet by packet): never hold a small frame
            # back until the previous one is acknowledged. The listener's option is inherited on
            # Linux; set here so it does not depend on that.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(response)
        self._sock = sock
        self._conn = Connection(ConnectionType.SERVER, extensions)
        self._send_lock = Semaphore()
        self._parts = None
        self._parts_len = 0
        self.handler(self)
        # The response (101 and the frames) went out on the socket itself: gunicorn must not write
        # one, and closes the connection on StopIteration (as with simple-websocket's gunicorn mode).
        raise StopIteration()

    # -- engine.io's interface -------------------------------------------------------------------
    def wait(self):
        """The next whole message (str or bytes), or None once the connection is closed."""
        while True:
            for event in self._conn.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    self._parts_len += len(event.data)
                    if self._parts_len > self.max_message_size:
                        self._close(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
                        return None
                    message = self._add(event)
                    if message is not None:
                        return message
                elif isinstance(event, Ping):
                    self._write(event.response())
                elif isinstance(event, CloseConnection):
                    # The client's close (or a frame wsproto could not parse, reported as a close with
                    # its code): answer it unless this side has closed already, then stop reading.
                    if self._conn.state is ConnectionState.REMOTE_CLOSING or \
                            self._conn.state is ConnectionState.OPEN:
                        self._write(event.response())
                    return None
                # a Pong needs nothing: engine.io's own pings are packets, not frames
            if self._conn.state is ConnectionState.CLOSED:
                return None
            try:
                data = self._sock.recv(RECEIVE_BYTES)
            except OSError:  # reset, or no data for engine.io's ping interval + timeout
                return None
            if not data:
                return None
            try:
                self._conn.receive_data(data)
            except ProtocolError:
                return None

    def send(self, message) -> None:
        if isinstance(message, (bytes, bytearray)):
            event = Message(data=bytes(message))
        else:
            event = TextMessage(data=str(message))
        try:
            self._write(event)
        except ProtocolError as error:  # closed by either side
            raise OSError(str(error)) from None

    def close(self) -> None:
        self._close(CloseReason.NORMAL_CLOSURE)

    # -- internals -------------------------------------------------------------------------------
    def _write(self, event) -> None:
        # engine.io's writer greenlet sends while this connection's greenlet may be answering a ping
        # or a close; a frame must go out whole before the next is started. Encoding under the lock
        # too keeps frames in the order their compression context saw them.
        with self._send_lock:
            self._sock.sendall(self._conn.send(event))

    def _close(self, code: CloseReason, reason: str | None = None) -> None:
        """Send a close frame unless one was sent already; a connection already gone is closed."""
        if self._conn.state is ConnectionState.OPEN or self._conn.state is ConnectionState.REMOTE_CLOSING:
            try:
                self._write(CloseConnection(code=code, reason=reason))
            except (OSError, ProtocolError):
                pass

    def _add(self, event):
        """Collect a message's fragments (counted in `_parts_len` by the caller); the whole message
        once its last fragment is in, else None."""
        if event.message_finished and self._parts is None:
            self._parts_len = 0
            data = event.data
            return bytes(data) if isinstance(data, bytearray) else data
        if self._parts is None:
            self._parts = []
        self._parts.append(event.data)
        if not event.message_finished:
            return None
        parts, self._parts, self._parts_len = self._parts, None, 0
        return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)


def handshake(environ) -> tuple[bytes, list]:
    """The 101 response to a WebSocket upgrade request (RFC 6455 section 4.2) and the extensions agreed.

    Like simple-websocket: no subprotocol; permessage-deflate when the client offers it."""
    connection = split_comma_header(environ.get("HTTP_CONNECTION", "").encode("latin-1"))
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket" or \
            not any(token.lower() == "upgrade" for token in connection):
        raise HandshakeError("400 Bad Request", [])
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != WEBSOCKET_VERSION:
        raise HandshakeError("426 Upgrade Required", [("Sec-WebSocket-Version", WEBSOCKET_VERSION)])
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY")
    if not key:
        raise HandshakeError("400 Bad Request", [])
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + generate_accept_token(key.encode("latin-1")),
    ]
    extensions = []
    offers = split_comma_header(environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "").encode("latin-1"))
    if offers:
        deflate = PerMessageDeflate()
        accepted = server_extensions_handshake(offers, [deflate])
        if accepted:
            lines.append(b"Sec-WebSocket-Extensions: " + accepted)
            extensions.append(deflate)
    return b"\r\n".join(lines) + b"\r\n\r\n", extensions


def install() -> None:
    """Use this WebSocket for engine.io's gevent driver in this process (gunicorn -k gevent only)."""
    from engineio.async_drivers import gevent as driver

    driver._async["websocket"] = WebSocket
