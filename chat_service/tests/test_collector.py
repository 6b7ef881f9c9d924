"""The worker's garbage collector policy: full passes skip what survived the last one, and dead cycles
among those are still reclaimed once enough connections have closed or the frozen set has grown enough."""

from __future__ import annotations

import gc
import weakref

import pytest

from chat_service.collector import GROWTH_BEFORE_FULL_PASS, MIN_CLOSED_BEFORE_FULL_PASS, Collector


class Node:
    """A cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


class Connections:
    def __init__(self) -> None:
        self.open = 0
        self.closed = 0


@pytest.fixture
def connections():
    return Connections()


@pytest.fixture
def collector(connections):
    collector = Collector(open_connections=lambda: connections.open, closed_connections=lambda: connections.closed)
    collector.install()
    yield collector
    gc.callbacks.remove(collector._after_pass)
    gc.unfreeze()


def test_survivors_of_a_full_pass_are_left_out_of_the_next(collector):
    kept = [Node() for _ in range(1000)]
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(kept)
    walked = {id(obj) for obj in gc.get_objects()}
    assert not any(id(node) in walked for node in kept)


def test_a_pass_never_walks_the_frozen_set(collector, monkeypatch):
    """Counting the frozen set (gc.get_freeze_count) walks every frozen object: with 10,000 sockets
    open that took 110-130 ms after every full pass, a stall of the whole worker."""
    walks = []
    monkeypatch.setattr(gc, "get_freeze_count", lambda: walks.append(1) or 0)
    frozen = collector.frozen_after_full_pass
    kept = [Node() for _ in range(1000)]
    gc.collect()
    gc.collect()
    assert walks == []
    # What was frozen is still counted: the survivors of the first pass, `kept` among them.
    assert collector.frozen_since_full_pass >= len(kept) and collector.frozen_after_full_pass == frozen


def frozen_dead_cycle() -> weakref.ref:
    dead = Node()
    watch = weakref.ref(dead)
    gc.collect()  # `dead` is frozen now
    del dead
    gc.collect()
    assert watch() is not None  # a frozen cycle waits
    return watch


def test_dead_cycles_among_frozen_objects_are_reclaimed_once_the_frozen_set_has_grown_enough(collector):
    watch = frozen_dead_cycle()
    grown = [Node() for _ in range(GROWTH_BEFORE_FULL_PASS * collector.frozen_after_full_pass)]
    gc.collect()  # the frozen set grew that much: thawed
    gc.collect()  # a pass over everything
    assert watch() is None
    assert collector.frozen_after_full_pass >= len(grown)


def test_live_connections_arriving_cause_no_pass_over_everything(collector, connections):
    watch = frozen_dead_cycle()
    grown = [Node() for _ in range(collector.frozen_after_full_pass)]  # doubled, as with twice the sockets
    connections.open = 2 * MIN_CLOSED_BEFORE_FULL_PASS
    gc.collect()
    gc.collect()
    assert watch() is not None and grown


def test_dead_cycles_are_reclaimed_once_as_many_connections_closed_as_were_open(collector, connections):
    connections.open = 2 * MIN_CLOSED_BEFORE_FULL_PASS
    collector._full_pass_done(gc.get_freeze_count())  # as after a pass with that many open
    watch = frozen_dead_cycle()
    connections.closed += connections.open  # not more than were open: not yet
    gc.collect()
    gc.collect()
    assert watch() is not None
    connections.closed += 1
    gc.collect()  # thawed
    gc.collect()  # a pass over everything
    assert watch() is None
    assert collector.closed_at_full_pass == connections.closed
