"""The worker's garbage collector policy: full passes skip what survived the last one, and dead cycles
among those are still reclaimed once the frozen set has doubled."""

from __future__ import annotations

import gc
import weakref

import pytest

from chat_service.collector import Collector


class Node:
    """A cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector():
    collector = Collector()
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


def test_dead_cycles_among_frozen_objects_are_reclaimed_once_the_frozen_set_doubles(collector):
    dead = Node()
    watch = weakref.ref(dead)
    gc.collect()  # `dead` is frozen now
    del dead
    gc.collect()
    assert watch() is not None  # a frozen cycle waits
    grown = [Node() for _ in range(2 * collector.frozen_after_full_pass)]
    gc.collect()  # the frozen set doubled: thawed
    gc.collect()  # a pass over everything
    assert watch() is None
    assert collector.frozen_after_full_pass >= len(grown)
