"""Engine.IO over WebSocket under gevent without a writer greenlet waiting on every socket.

engine.io's `Socket._websocket_handler` starts a writer greenlet per connection that waits on the
socket's packet queue (for up to ping interval + ping timeout) and writes what comes, so every idle
WebSocket holds one more greenlet, its saved stack, its frames and its timeout (docs/benchmarks.md,
"Memory per idle WebSocket"). Here a greenlet is started when a packet is queued on a WebSocket
connection that has none writing, and ends once the queue is empty: same order, same writes.

engine.io's writer also closed a connection that had nothing to send for interval + timeout. The
WebSocket read (websocket.py) has that timeout instead (engine.io sets it on the socket): a client
that answers no ping sends nothing, its read times out and the connection closes as before.
A live client never gets there: it answers a ping at least every interval.
"""

from __future__ import annotations

import gevent
from engineio import exceptions, packet
from engineio.socket import Socket
from gevent.queue import Empty, JoinableQueue


class PacketQueue(JoinableQueue):
    """engine.io's per-socket packet queue; once the socket is on WebSocket, every put (a packet, or
    the None that ends the connection) makes sure a greenlet is writing."""

    __slots__ = ("writer",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writer = None

    def put(self, item, block=True, timeout=None) -> None:
        super().put(item, block, timeout)
        if self.writer is not None:
            self.writer.wake()


class Writer:
    """Writes a socket's queued packets to its WebSocket from a greenlet that lives while there are any."""

    __slots__ = ("queue", "ws", "running", "failed")

    def __init__(self, queue: PacketQueue, ws) -> None:
        self.queue = queue
        self.ws = ws
        self.running = False
        self.failed = False

    def wake(self) -> None:
        if not self.running:
            self.running = True
            gevent.spawn_raw(self._write_queued)

    def _write_queued(self) -> None:
        try:
            while True:
                try:
                    pkt = self.queue.get(block=False)
                except Empty:
                    return
                # Done at once, as engine.io's poll() does: join() waits for packets taken, not written.
                self.queue.task_done()
                if self.failed:
                    continue  # after a failed write nothing more is written (engine.io's writer stopped)
                if pkt is None:  # the connection is over: no packets after this one
                    self.failed = True
                    self.ws.close()
                    continue
                try:
                    self.ws.send(pkt.encode())
                except Exception:
                    self.failed = True
                    self.ws.close()
        finally:
            self.running = False


def _websocket_handler(self: Socket, ws):
    """engine.io 4.15's `Socket._websocket_handler`, with `Writer` in place of its writer greenlet."""
    def websocket_wait():
        data = ws.wait()
        if data and len(data) > self.server.max_http_buffer_size:
            raise ValueError('packet is too large')
        return data

    # engine.io's idle timeout, now the read's (see the module's docstring)
    ws._sock.settimeout(self.server.ping_interval + self.server.ping_timeout)

    if self.connected:
        # the socket was already connected, so this is an upgrade
        self.upgrading = True  # hold packet sends during the upgrade

        pkt = websocket_wait()
        decoded_pkt = packet.Packet(encoded_packet=pkt)
        if decoded_pkt.packet_type != packet.PING or decoded_pkt.data != 'probe':
            self.server.logger.info('%s: Failed websocket upgrade, no PING packet', self.sid)
            self.upgrading = False
            return []
        ws.send(packet.Packet(packet.PONG, data='probe').encode())
        self.queue.put(packet.Packet(packet.NOOP))  # end poll

        pkt = websocket_wait()
        decoded_pkt = packet.Packet(encoded_packet=pkt)
        if decoded_pkt.packet_type != packet.UPGRADE:
            self.upgraded = False
            self.server.logger.info('%s: Failed websocket upgrade, expected UPGRADE packet, received %s instead.',
                                    self.sid, pkt)
            self.upgrading = False
            return []
        self.upgraded = True
        self.upgrading = False
    else:
        self.connected = True
        self.upgraded = True

    self.queue.writer = Writer(self.queue, ws)
    self.queue.writer.wake()  # what was queued before (the open packet; on an upgrade, what polling left)
    self.server.logger.info('%s: Upgrade to websocket successful', self.sid)

    while True:
        p = None
        try:
            p = websocket_wait()
        except Exception as e:
            # if the socket is already closed, we can assume this is a downstream error of that
            if not self.closed:
                self.server.logger.info('%s: Unexpected error "%s", closing connection', self.sid, str(e))
            break
        if p is None:
            # connection closed by client
            break
        try:
            pkt = packet.Packet(encoded_packet=p)
        except Exception as e:
            # Not an Engine.IO packet (an unknown type; a payload nested deep enough that the JSON
            # parser gives up with a RecursionError). engine.io let the error out of this handler,
            # which dropped the TCP connection with no close frame and never closed the session; it
            # is closed like any other connection instead, as Engine.IO's own server does.
            self.server.logger.info('%s: Unreadable packet "%s", closing connection', self.sid,
                                    e.__class__.__name__)
            break
        try:
            self.receive(pkt)
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            self.server.logger.info('Receive error -- socket is closed')
            break
        except Exception:
            # if we get an unexpected exception we log the error and exit the connection properly
            self.server.logger.exception('Unknown receive error')
            break

    self.queue.put(None)  # ends the writing once what is queued is written
    self.queue.join()  # as engine.io joined its writer: what was queued goes out before the socket closes
    self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
    return []


def install() -> None:
    """engine.io's sockets of this process write to WebSockets through `Writer` (gevent, with websocket.py)."""
    from engineio.async_drivers import gevent as driver

    driver._async["queue"] = PacketQueue
    Socket._websocket_handler = _websocket_handler
