"""Evaluation protocols: split `Interactions` into train / (validation) / test, seeded.

Every split keeps the id maps of its input, so train and test matrices share one shape and a
model fitted on train can be scored against test directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from recsys.errors import ConfigError
from recsys.users.interactions import Interactions


@dataclass(frozen=True)
class Split:
    """The parts of one protocol; ``val`` is None for two-way protocols."""

    train: Interactions
    test: Interactions
    val: Interactions | None = None


def _rank_within_user(user_idx: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (0-based) of each event among its user's events ordered by ``key``; and the counts."""
    if not len(user_idx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((key, user_idx))  # by user, then key
    counts = np.bincount(user_idx)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(user_idx), np.int64)
    rank[order] = np.arange(len(user_idx)) - np.repeat(starts, counts)
    return rank, counts[user_idx]


def stratified_split(interactions: Interactions, *, ratio: float = 0.75, seed: int = 0) -> Split:
    """Per-user random split: ``round(ratio * n_u)`` of each user's events go to train.

    As Microsoft Recommenders' ``python_stratified_split``, except that a user with at least two
    events always keeps one on each side (a user with one event keeps it in train).
    """
    if not 0 < ratio < 1:
        raise ConfigError(f"ratio must be in (0, 1), got {ratio}")
    rng = np.random.default_rng(seed)
    rank, n = _rank_within_user(interactions.user_idx, rng.random(len(interactions)))
    n_train = np.where(n >= 2, np.clip(np.round(ratio * n), 1, n - 1), n)
    is_train = rank < n_train
    return Split(interactions.subset(is_train), interactions.subset(~is_train))


def stratified_75_25(interactions: Interactions, *, seed: int = 0) -> Split:
    """`stratified_split` with ratio 0.75: the Microsoft Recommenders MovieLens protocol."""
    return stratified_split(interactions, ratio=0.75, seed=seed)


def random_80_10_10(interactions: Interactions, *, seed: int = 0) -> Split:
    """Global random split of events: 80% train, 10% validation, 10% test."""
    n = len(interactions)
    order = np.random.default_rng(seed).permutation(n)
    cut_train, cut_val = int(round(0.8 * n)), int(round(0.9 * n))
    part = np.empty(n, np.int64)
    part[order] = np.repeat([0, 1, 2], [cut_train, cut_val - cut_train, n - cut_val])
    return Split(interactions.subset(part == 0), interactions.subset(part == 2),
                 interactions.subset(part == 1))


def leave_one_out(interactions: Interactions, *, seed: int = 0) -> Split:
    """Each user's last event (by timestamp; random when there are no timestamps) is the test.

    Ties on the timestamp are broken at random. Users with a single event stay in train.
    """
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(interactions))
    stamp = interactions.timestamp if interactions.has_time else np.zeros(len(interactions))
    # lexsort sorts by the last key first: timestamp, then the random tiebreak.
    key = np.lexsort((tiebreak, stamp)).argsort().astype(np.float64)
    rank, n = _rank_within_user(interactions.user_idx, key)
    is_test = (rank == n - 1) & (n >= 2)
    return Split(interactions.subset(~is_test), interactions.subset(is_test))


def temporal(interactions: Interactions, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Global time cut: the latest ``test_fraction`` of events (ties broken at random) is test."""
    if not interactions.has_time:
        raise ConfigError("the temporal protocol needs timestamps, and this data has none")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(interactions)
    tiebreak = np.random.default_rng(seed).random(n)
    order = np.lexsort((tiebreak, interactions.timestamp))
    is_train = np.zeros(n, bool)
    is_train[order[: n - int(round(test_fraction * n))]] = True
    return Split(interactions.subset(is_train), interactions.subset(~is_train))


PROTOCOLS: dict[str, Callable[..., Split]] = {
    "stratified-75-25": stratified_75_25,
    "random-80-10-10": random_80_10_10,
    "leave-one-out": leave_one_out,
    "temporal": temporal,
}


def split(interactions: Interactions, protocol: str, *, seed: int = 0) -> Split:
    """Apply the named protocol (a key of `PROTOCOLS`)."""
    try:
        func = PROTOCOLS[protocol]
    except KeyError:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of "
                          f"{', '.join(PROTOCOLS)}") from None
    return func(interactions, seed=seed)
