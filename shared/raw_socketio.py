"""Socket.IO clients for tests that send exactly the packets they are given, over WebSocket or
long-polling, and report everything the server does: packets, acknowledgements, and how it closed.

A Socket.IO client library cannot send what a server must survive (a payload nested 5,000 levels
deep, a packet of the wrong type, an ack id of 200 digits); these send text as it is.

    client = WebSocketClient(url)          # or PollingClient(url); url: a gateway or an instance
    client.connect({"token": token})       # engine.io open + Socket.IO CONNECT, answered
    client.send('42["send",{...}]')        # one Socket.IO packet as text (the engine.io "4" is added)
    client.ack(2)                          # the data of the ACK with id 2; raises Closed or TimeoutError
    client.close()

Engine.IO pings are answered. `Closed.clean` tells a close the server meant (a WebSocket close frame,
an engine.io CLOSE packet) from a connection that just broke.
"""

from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import requests
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.utilities import LocalProtocolError
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Message, Ping, RejectConnection, \
    Request, TextMessage

PATH = "/socket.io/?EIO=4&transport="


class Closed(Exception):
    """The connection ended; `clean` when the server closed it on purpose, `code` the WebSocket's."""

    def __init__(self, clean: bool, code: int | None = None, detail: str = "") -> None:
        super().__init__(f"closed ({'clean' if clean else 'broken'}, code {code}) {detail}".strip())
        self.clean = clean
        self.code = code


class RawClient:
    """What both transports share: Socket.IO packets in and out, pings answered, acks found."""

    def connect(self, auth: Any = None, timeout: float = 5) -> str:
        """Send CONNECT with `auth`; the server's answer (`40{"sid":..}` or `44{...}`)."""
        self.send("0" + (json.dumps(auth) if auth is not None else ""))
        return self.receive(timeout, kinds="04")

    def send(self, packet: str) -> int | None:
        return self.send_engineio("4" + packet)

    def receive(self, timeout: float = 5, kinds: str = "0123456") -> str:
        """The next Socket.IO packet whose type is in `kinds` (others, such as events like presence,
        are skipped); pings are answered on the way."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._next_engineio(max(0.0, deadline - time.monotonic()))
            if isinstance(message, bytes):
                continue  # a binary attachment: this server sends none
            if message == "2":
                self.send_engineio("3")
            elif message == "1":
                raise Closed(True, detail="engine.io CLOSE packet")
            elif message.startswith("4") and message[1:2] in kinds:
                return message[1:]

    def ack(self, ack_id: int, timeout: float = 5) -> Any:
        """The data of the ACK with this id (its first argument)."""
        prefix = f"3{ack_id}"
        deadline = time.monotonic() + timeout
        while True:
            packet = self.receive(max(0.0, deadline - time.monotonic()), kinds="3")
            rest = packet[len(prefix):]
            if packet.startswith(prefix) and rest[:1] == "[":
                data = json.loads(rest)
                return data[0] if data else None

    def closing(self, timeout: float = 5) -> Closed:
        """How the server closes the connection (what it sends before is skipped); TimeoutError if
        it has not closed it within `timeout`."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.receive(max(0.0, deadline - time.monotonic()))
        except Closed as closed:
            return closed

    def send_engineio(self, message: str | bytes) -> int | None:
        raise NotImplementedError

    def _next_engineio(self, timeout: float) -> str | bytes:
        raise NotImplementedError


class WebSocketClient(RawClient):
    def __init__(self, url: str, timeout: float = 5) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: deque = deque()
        self.closed: Closed | None = None
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=PATH + "websocket")))
        event = self._next_event(timeout)
        if isinstance(event, RejectConnection):
            raise Closed(True, detail=f"upgrade refused: {event.status_code}")
        assert isinstance(event, AcceptConnection), event
        opened = self._next_engineio(timeout)
        assert isinstance(opened, str) and opened.startswith("0{"), opened
        self.handshake = json.loads(opened[1:])

    def send_engineio(self, message: str | bytes) -> None:
        event = Message(data=message)
        try:
            self.sock.sendall(self.ws.send(event))
        except OSError:
            raise Closed(False, detail="the connection broke while sending") from None
        except LocalProtocolError:  # wsproto refuses to send on a connection it knows is closed
            raise self.closed or Closed(False, detail="sending on a closed connection") from None

    def _next_event(self, timeout: float):
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the server")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no answer from the server") from None
            except OSError:
                data = b""
            self.ws.receive_data(data or None)  # None: the server closed the TCP connection
            self.pending.extend(self.ws.events())
            if not data and not self.pending:
                raise self.closed or Closed(False, detail="TCP closed without a close frame")
        return self.pending.popleft()

    def _next_engineio(self, timeout: float) -> str | bytes:
        if self.closed is not None:
            raise self.closed
        deadline = time.monotonic() + timeout
        while True:
            event = self._next_event(max(0.0, deadline - time.monotonic()))
            if isinstance(event, (TextMessage, BytesMessage)):
                return event.data
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self.closed = Closed(True, event.code, event.reason or "")
                try:
                    self.sock.sendall(self.ws.send(event.response()))
                except (OSError, LocalProtocolError):  # already closed under us
                    pass
                raise self.closed

    def close(self) -> None:
        self.sock.close()


class PollingClient(RawClient):
    """Long-polling: a thread keeps one GET waiting, as browsers do, and queues what it brings."""

    def __init__(self, url: str, timeout: float = 5) -> None:
        self.base = url.rstrip("/") + PATH + "polling"
        self.http = requests.Session()
        self.received: queue.Queue = queue.Queue()
        self.statuses: list[int] = []  # of every request, for checks that none was a 5xx
        opened = self.http.get(self.base, timeout=timeout)
        self.statuses.append(opened.status_code)
        assert opened.status_code == 200 and opened.text.startswith("0{"), (opened.status_code, opened.text)
        self.handshake = json.loads(opened.text[1:])
        self.url = f"{self.base}&sid={self.handshake['sid']}"
        self.stopped = threading.Event()
        self.closed: Closed | None = None
        self.reader = threading.Thread(target=self._poll, daemon=True)
        self.reader.start()

    def send_engineio(self, message: str | bytes) -> int:
        """POSTs the message; the status (200, or 413 for a body over the limit)."""
        if isinstance(message, bytes):
            message = "b" + base64.b64encode(message).decode()
        try:
            response = self.http.post(self.url, data=message.encode(), timeout=10,
                                      headers={"Content-Type": "text/plain;charset=UTF-8"})
        except requests.RequestException:
            raise Closed(False, detail="the POST failed") from None
        self.statuses.append(response.status_code)
        return response.status_code

    def _poll(self) -> None:
        http = requests.Session()
        while not self.stopped.is_set():
            try:
                response = http.get(self.url, timeout=130)
            except requests.RequestException:
                self.received.put(Closed(False, detail="a GET failed"))
                return
            self.statuses.append(response.status_code)
            if response.status_code != 200:
                # 400: engine.io no longer knows the session; it was closed before this poll.
                self.received.put(Closed(response.status_code < 500, detail=f"GET answered {response.status_code}"))
                return
            for message in response.text.split("\x1e"):
                if message.startswith("b"):
                    message = base64.b64decode(message[1:])
                self.received.put(message)
                if message == "1":
                    return

    def _next_engineio(self, timeout: float) -> str | bytes:
        if self.closed is not None:
            raise self.closed
        try:
            message = self.received.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no answer from the server") from None
        if isinstance(message, Closed):
            self.closed = message
            raise message
        if message == "1":
            self.closed = Closed(True, detail="engine.io CLOSE packet")
        return message

    def close(self) -> None:
        self.stopped.set()
        if self.closed is None:
            try:
                self.http.post(self.url, data=b"1", timeout=5)
            except requests.RequestException:
                pass
