"""The worker's cyclic garbage collector: full passes cover what is new, not every open connection.

Each open WebSocket keeps ~190 objects the collector tracks (its greenlets, queues, environ,
engine.io and Socket.IO session state). Python's full (generation 2) pass walks every one of
them: with 10,000 sockets open, 1.9 million objects and 1.2 s of CPU per pass on this machine,
measured with gc.callbacks, a stall of the whole worker that showed as p99 latency in seconds.
Such a pass starts whenever a quarter as many objects as the last one kept have survived
since, which pings and message traffic reach every few minutes.

So whatever survives a full pass is frozen (gc.freeze: kept out of later passes), and the next
passes only walk objects created since. Frozen objects are still freed by reference counting;
only cycles among them that die later (a closed connection's, say) wait for the collector. To
bound that, once the frozen set has doubled since the last pass over everything, it is thawed
and the next full pass covers the whole heap: one long pass per doubling, like a growing array's
copies, so memory held by dead cycles stays below the live size.
"""

from __future__ import annotations

import gc
from typing import Any

# Thaw once the frozen set has grown this much since the last pass over everything.
GROWTH_BEFORE_FULL_PASS = 2


class Collector:
    def __init__(self) -> None:
        self.frozen_after_full_pass = 0
        self.full_pass_next = False

    def install(self) -> None:
        """Collect and freeze what start-up made (the app, its modules), then watch full passes."""
        gc.collect()
        gc.freeze()
        self.frozen_after_full_pass = gc.get_freeze_count()
        gc.callbacks.append(self._after_pass)

    def _after_pass(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2:
            return
        gc.freeze()
        frozen = gc.get_freeze_count()
        if self.full_pass_next:
            self.full_pass_next = False
            self.frozen_after_full_pass = frozen
        elif frozen > GROWTH_BEFORE_FULL_PASS * self.frozen_after_full_pass:
            gc.unfreeze()
            self.full_pass_next = True
