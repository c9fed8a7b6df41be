import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from receiver._gc import GcFreezer


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> "weakref.ref[_Node]":
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process's collector as it was


async def test_start_freezes_what_exists_and_rounds_still_collect_new_cyclic_garbage() -> None:
    freezer = GcFreezer(interval_s=0.05)
    freezer.start()
    assert gc.get_freeze_count() > 0
    young = _cycle()
    await asyncio.sleep(0.2)  # a few rounds
    assert young() is None  # collected before being frozen, not kept
    assert freezer.rounds >= 2
    await freezer.stop()
    rounds = freezer.rounds
    await asyncio.sleep(0.1)
    assert freezer.rounds == rounds


async def test_a_full_round_finds_cycles_among_frozen_objects() -> None:
    freezer = GcFreezer(interval_s=60)
    cycle = _cycle()
    strong = cycle()
    freezer.freeze()
    del strong
    gc.collect()
    assert cycle() is not None  # frozen: the collector no longer looks at it
    freezer.freeze(full=True)
    assert cycle() is None


def test_zero_interval_leaves_the_collector_alone() -> None:
    before = gc.get_freeze_count()
    GcFreezer(interval_s=0).start()  # no running loop needed: nothing is started
    assert gc.get_freeze_count() == before
