"""The worker's cyclic garbage collector: full passes cover what is new, not every open connection.

Each open WebSocket keeps ~190 objects the collector tracks (its greenlets, queues, environ,
engine.io and Socket.IO session state). Python's full (generation 2) pass walks every one of
them: with 10,000 sockets open, 1.9 million objects and 1.2 s of CPU per pass on this machine,
measured with gc.callbacks, a stall of the whole worker that showed as p99 latency in seconds.
Such a pass starts whenever a quarter as many objects as the last one kept have survived
since, which pings and message traffic reach every few minutes.

So whatever survives a full pass is frozen (gc.freeze: kept out of later passes), and the next
passes only walk objects created since. Frozen objects are still freed by reference counting;
only cycles among them that die later wait for the collector: mostly a closed connection's. To
bound that, the frozen set is thawed, and the next full pass covers the whole heap, once as many
connections have closed since the last pass over everything as were open then (at least
`MIN_CLOSED_BEFORE_FULL_PASS`): the memory held by dead connections stays below what the live ones
hold. Growth alone leaves no garbage to find, but transient cycles that happened to be alive at a
pass get frozen too, so the set is also thawed once what was frozen since the last pass over
everything would make it `GROWTH_BEFORE_FULL_PASS` times as large as then. A pass over everything
stops the worker (0.79 s of CPU with 10,000 sockets open, measured with gc.callbacks); thawing on
every doubling of the set, as this did at first, put such a pass within seconds of an instance's
connection count doubling, and once in the middle of a measured run (docs/benchmarks.md).

What a pass freezes is counted as it is frozen (the survivors a full pass leaves in the oldest
generation), never with `gc.get_freeze_count()`: that walks the whole frozen set, object by object,
scattered over the heap. With 10,000 sockets open it took 110-130 ms after every full pass, a
stall of the worker every few seconds under load that showed as p99 latency (docs/benchmarks.md).
"""

from __future__ import annotations

import gc
from typing import Any, Callable

# Thaw once what was frozen since the last pass over everything makes the set this many times
# as large as it was then...
GROWTH_BEFORE_FULL_PASS = 4
# ...or once more connections than were open then have closed since, and at least this many.
MIN_CLOSED_BEFORE_FULL_PASS = 1000


class Collector:
    def __init__(self, open_connections: Callable[[], int] = lambda: 0,
                 closed_connections: Callable[[], int] = lambda: 0) -> None:
        self.open_connections = open_connections
        self.closed_connections = closed_connections
        self.frozen_after_full_pass = 0
        self.frozen_since_full_pass = 0
        self.open_at_full_pass = 0
        self.closed_at_full_pass = 0
        self.full_pass_next = False

    def install(self) -> None:
        """Collect and freeze what start-up made (the app, its modules), then watch full passes."""
        gc.collect()
        self._full_pass_done(self._freeze())
        gc.callbacks.append(self._after_pass)

    @staticmethod
    def _freeze() -> int:
        """Freeze what a full pass left alive and return how many objects that was. Right after a
        full pass every survivor not yet frozen sits in the oldest generation."""
        survivors = len(gc.get_objects(generation=2))
        gc.freeze()
        return survivors

    def _full_pass_done(self, frozen: int) -> None:
        self.frozen_after_full_pass = frozen
        self.frozen_since_full_pass = 0
        self.open_at_full_pass = self.open_connections()
        self.closed_at_full_pass = self.closed_connections()

    def _after_pass(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        frozen = self._freeze()
        if self.full_pass_next:
            self.full_pass_next = False
            self._full_pass_done(frozen)
            return
        self.frozen_since_full_pass += frozen
        closed = self.closed_connections() - self.closed_at_full_pass
        grown = self.frozen_after_full_pass + self.frozen_since_full_pass
        if grown > GROWTH_BEFORE_FULL_PASS * self.frozen_after_full_pass or \
                closed > max(self.open_at_full_pass, MIN_CLOSED_BEFORE_FULL_PASS):
            gc.unfreeze()
            self.full_pass_next = True
