"""ui/heap.py: a slow full collection leads to one freeze of what is alive, and only then."""
import gc

import pytest

from ui import heap


@pytest.fixture
def clean_heap(monkeypatch):
    monkeypatch.setitem(heap._state, "slow", False)
    yield
    gc.unfreeze()  # give the test process its normal collector back


def test_no_freeze_without_a_slow_collection(clean_heap, monkeypatch):
    heap.install()
    monkeypatch.setattr(heap, "SLOW_S", 1e9)   # no collection is that slow
    gc.collect()
    assert heap.freeze_if_slow() is False


def test_slow_full_collection_triggers_one_freeze(clean_heap, monkeypatch):
    heap.install()
    heap.install()  # idempotent: one callback
    assert gc.callbacks.count(heap._on_gc) == 1
    monkeypatch.setattr(heap, "SLOW_S", 0.0)   # every full collection counts as slow
    gc.collect()
    before = heap.stats()["freezes"]
    assert heap.freeze_if_slow() is True
    assert heap.stats()["freezes"] == before + 1
    assert gc.get_freeze_count() > 0
    assert heap.freeze_if_slow() is False      # the flag is consumed


def test_young_collections_do_not_count(clean_heap, monkeypatch):
    heap.install()
    monkeypatch.setattr(heap, "SLOW_S", 0.0)
    gc.collect(0)
    gc.collect(1)
    assert heap.freeze_if_slow() is False
