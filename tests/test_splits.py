"""Split protocols: sizes, disjointness, seeding, and the per-protocol rules."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.errors import ConfigError
from recsys.users.interactions import Interactions
from recsys.evaluation.splits import PROTOCOLS, leave_one_out, random_80_10_10, split, stratified_75_25, \
    temporal


@pytest.fixture(scope="module")
def events() -> Interactions:
    rng = np.random.default_rng(0)
    sizes = [1, 2, 3, 4, 20, 37]  # events per user
    users = np.repeat(np.arange(len(sizes)), sizes)
    items = np.concatenate([rng.choice(50, n, replace=False) for n in sizes])
    frame = pd.DataFrame({"u": users, "i": items, "t": rng.integers(1_000, 2_000, len(users))})
    return Interactions.from_frame(frame, "u", "i", time_col="t")


def _keys(part: Interactions) -> set:
    return set(zip(part.user_idx.tolist(), part.item_idx.tolist()))


def test_stratified_counts_match_microsoft_rounding(events):
    parts = stratified_75_25(events, seed=1)
    n_train = np.bincount(parts.train.user_idx, minlength=6)
    n_test = np.bincount(parts.test.user_idx, minlength=6)
    # round(0.75 n), but a user with >= 2 events keeps one on each side.
    assert n_train.tolist() == [1, 1, 2, 3, 15, 28]
    assert n_test.tolist() == [0, 1, 1, 1, 5, 9]
    assert _keys(parts.train) | _keys(parts.test) == _keys(events)
    assert not _keys(parts.train) & _keys(parts.test)
    assert parts.train.item_ids == events.item_ids and parts.test.n_users == events.n_users


def test_splits_are_seeded(events):
    for name in PROTOCOLS:
        a, b = split(events, name, seed=3), split(events, name, seed=3)
        assert _keys(a.test) == _keys(b.test), name
    other = stratified_75_25(events, seed=4)
    assert _keys(stratified_75_25(events, seed=3).test) != _keys(other.test)


def test_random_80_10_10(events):
    parts = random_80_10_10(events, seed=0)
    sizes = [len(parts.train), len(parts.val), len(parts.test)]
    # 67 events: cuts at round(53.6) = 54 and round(60.3) = 60.
    assert sum(sizes) == len(events) and sizes == [54, 6, 7]
    assert not _keys(parts.train) & _keys(parts.test)
    assert not _keys(parts.val) & _keys(parts.test)


def test_leave_one_out_takes_the_last_event(events):
    parts = leave_one_out(events, seed=0)
    assert sorted(parts.test.user_idx.tolist()) == [1, 2, 3, 4, 5]  # user 0 has one event
    for u, t in zip(parts.test.user_idx, parts.test.timestamp):
        assert t >= events.timestamp[events.user_idx == u].max()


def test_leave_one_out_without_time_is_random_but_one_per_user(events):
    untimed = Interactions(events.user_idx, events.item_idx, events.weight,
                           np.zeros(len(events)), events.user_ids, events.item_ids)
    parts = leave_one_out(untimed, seed=0)
    assert np.bincount(parts.test.user_idx).tolist() == [0, 1, 1, 1, 1, 1]


def test_temporal_cut(events):
    parts = temporal(events, seed=0)
    assert parts.train.timestamp.max() <= parts.test.timestamp.min()
    assert len(parts.test) == round(0.2 * len(events))
    untimed = Interactions(events.user_idx, events.item_idx, events.weight,
                           np.zeros(len(events)), events.user_ids, events.item_ids)
    with pytest.raises(ConfigError, match="timestamps"):
        temporal(untimed)


def test_unknown_protocol(events):
    with pytest.raises(ConfigError, match="stratified-75-25"):
        split(events, "kfold")
