"""Engine.IO pings under gevent from one timer per socket, not one sleeping greenlet per socket.

engine.io (python-engineio 4.x, `Socket.schedule_ping`) spawns a greenlet per socket that sleeps
through the ping interval and then queues the ping. On an instance holding thousands of idle
WebSockets that is one greenlet, its saved stack and its objects per socket, re-created every
interval (docs/benchmarks.md, "Memory per idle WebSocket"). A libev timer on gevent's loop does
the waiting instead; when it fires, a raw greenlet that lives for microseconds queues the ping
through engine.io's own `Socket.send`, exactly as `_send_ping` did.

The interval is shortened by up to 10 % at random: the sockets of a burst of connections (an
instance restart, a network coming back) then ping over a spread of seconds rather than all at
once. Pinging earlier than advertised is safe: clients only time out when a ping is *late*
(ping interval + ping timeout after the last one), and answer every ping whenever it comes.
"""

from __future__ import annotations

import random
import time

import gevent
from engineio import packet
from engineio.socket import Socket

JITTER = 0.1


def schedule_ping(self: Socket) -> None:
    # As engine.io's: only schedule a new ping if the previous ping wait cycle completed.
    if self.last_ping:
        self.last_ping = None
        timer = gevent.get_hub().loop.timer(self.server.ping_interval * (1 - JITTER * random.random()))
        timer.start(gevent.spawn_raw, _send_ping, self, timer)


def _send_ping(self: Socket, timer) -> None:
    timer.close()
    if not self.closing and not self.closed:
        self.last_ping = time.time()
        self.send(packet.Packet(packet.PING))


def install() -> None:
    """Replace engine.io's ping scheduling for every socket of this process (gevent only)."""
    Socket.schedule_ping = schedule_ping
