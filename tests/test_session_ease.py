"""Event times through the library: `Interactions.to_timestamp_csr`, the timed validation split,
`SessionEASE`, and the callers that hand times to models that use them (evaluate, Ensemble)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.evaluation import evaluate as ev
from recsys.models import EASE, Ensemble, Recommender, SessionEASE
from recsys.models.base import timed_validation_split, timestamp_kwargs, validation_split
from recsys.users.interactions import Interactions

DAY = 86_400


def _sessions(n_users: int = 30, seed: int = 0):
    """Every user has items 0, 1 and 2: 1 within a minute of 0, 2 a month later; plus three of
    items 3..11 at random times. Returns (user_items csr, timestamps csr), (n_users, 12)."""
    rng = np.random.default_rng(seed)
    rows, cols, times = [], [], []
    for u in range(n_users):
        start = 880_000_000 + int(rng.integers(0, 100 * DAY))
        extra = rng.choice(np.arange(3, 12), 3, replace=False)
        for item, t in [(0, start), (1, start + 40), (2, start + 30 * DAY),
                        *[(int(i), start + int(rng.integers(0, 60 * DAY))) for i in extra]]:
            rows.append(u), cols.append(item), times.append(t)
    shape = (n_users, 12)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    t = sp.csr_matrix((np.asarray(times, np.float64), (rows, cols)), shape=shape)
    return x, t


def test_timestamp_csr_has_the_matrix_pattern_and_keeps_the_latest_repeat():
    frame = pd.DataFrame({"user": ["a", "a", "b", "a"], "item": ["x", "y", "x", "x"],
                          "time": [100, 50, 70, 300]})
    inter = Interactions.from_frame(frame, "user", "item", time_col="time")
    times, counts = inter.to_timestamp_csr(), inter.to_csr()
    assert (times.indptr == counts.indptr).all() and (times.indices == counts.indices).all()
    a, x = inter.user_ids.index(["a"])[0], inter.item_ids.index(["x"])[0]
    assert times[a, x] == 300 and counts[a, x] == 2  # the repeat: latest time, summed count


def test_session_ease_without_times_is_ease():
    x, t = _sessions()
    plain = EASE(lambda_reg=5.0).fit(x).item_weights_
    assert np.allclose(SessionEASE(lambda_reg=5.0).fit(x).item_weights_, plain, atol=1e-5)
    same_time = sp.csr_matrix((np.full(x.nnz, 7.0), x.indices, x.indptr), shape=x.shape)
    assert np.allclose(SessionEASE(lambda_reg=5.0).fit(x, timestamps=same_time).item_weights_,
                       plain, atol=1e-5)


def test_session_ease_ranks_the_item_met_in_the_same_session_first():
    x, t = _sessions()
    history = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 12))
    plain = EASE(lambda_reg=5.0).fit(x).score(np.array([-1]), user_items=history)[0]
    assert plain[1] == pytest.approx(plain[2], abs=1e-5)  # counts alone cannot tell 1 from 2
    timed = SessionEASE(lambda_reg=5.0, session_weight=2.0, time_scale_s=300.0).fit(
        x, timestamps=t).score(np.array([-1]), user_items=history)[0]
    assert timed[1] > timed[2] + 0.05
    assert np.argmax(np.where(np.arange(12) == 0, -np.inf, timed)) == 1


def test_session_ease_rejects_bad_settings_and_misaligned_times():
    x, t = _sessions()
    with pytest.raises(ConfigError, match="lambda_reg"):
        SessionEASE(lambda_reg=0.0).fit(x, timestamps=t)
    with pytest.raises(ConfigError, match="time_scale_s"):
        SessionEASE(time_scale_s=0.0).fit(x, timestamps=t)
    with pytest.raises(ConfigError, match="exactly where"):
        SessionEASE().fit(x, timestamps=sp.csr_matrix(np.ones(x.shape)))
    with pytest.raises(ConfigError, match="shape"):
        SessionEASE().fit(x, timestamps=t[:, :5])


def test_timed_validation_split_is_the_plain_split_and_carries_each_entry_time():
    x, t = _sessions()
    fit_part, val_part, fit_times = timed_validation_split(x, t, 0.25, seed=3)
    plain_fit, plain_val = validation_split(x, 0.25, seed=3)
    assert (fit_part != plain_fit).nnz == 0 and (val_part != plain_val).nnz == 0
    assert (fit_times.indptr == fit_part.indptr).all()
    assert (fit_times.indices == fit_part.indices).all()
    rows, cols = fit_part.nonzero()
    assert np.array_equal(np.asarray(fit_times[rows, cols]).ravel(),
                          np.asarray(t[rows, cols]).ravel())
    assert timed_validation_split(x, None, 0.25, seed=3)[2] is None


class _TimeSpy(Recommender):
    """Records the timestamps its fit was given (a fake for the callers' plumbing only)."""

    uses_timestamps = True
    seen: list = []

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, user_items, *, item_features=None, user_features=None, timestamps=None):
        self._remember(user_items)
        _TimeSpy.seen.append((user_items, timestamps))
        return self

    def score(self, user_idx, *, user_items=None, user_features=None):
        history = self._history(np.atleast_1d(user_idx), user_items)
        return np.asarray(history.sum(0)).repeat(history.shape[0], 0).astype(np.float32)


def test_evaluate_hands_each_model_the_times_of_its_own_training_part():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": np.repeat(np.arange(40), 8),
                          "item": np.concatenate([rng.choice(30, 8, replace=False)
                                                  for _ in range(40)]),
                          "time": rng.integers(1, 10**6, 320)})
    inter = Interactions.from_frame(frame, "user", "item", time_col="time")
    _TimeSpy.seen = []
    ev.evaluate(inter, protocol="stratified-75-25", k=5,
                models={"spy": _TimeSpy(), "ease": EASE(lambda_reg=5.0)}, seed=1)
    assert len(_TimeSpy.seen) == 2  # the benchmark fit and the score-fusion tuning fit
    lookup = {(u, i): t for u, i, t in zip(inter.user_idx, inter.item_idx, inter.timestamp)}
    for user_items, times in _TimeSpy.seen:
        assert times is not None and (times.indices == user_items.indices).all()
        rows, cols = user_items.nonzero()
        assert all(times[r, c] == lookup[(r, c)] for r, c in zip(rows, cols))
    assert timestamp_kwargs(EASE(), "t") == {} and timestamp_kwargs(_TimeSpy(), "t") == {
        "timestamps": "t"}


def test_ensemble_hands_times_to_its_session_member_when_tuning_and_refitting():
    x, t = _sessions(n_users=60)
    members = {"session_ease": dict(lambda_reg=5.0), "ease": dict(lambda_reg=5.0)}
    tuned = Ensemble(members=members, random_state=2).fit(x, timestamps=t)
    direct = SessionEASE(lambda_reg=5.0).fit(x, timestamps=t)
    assert tuned.weights_["session_ease"] > 0  # so the refitted member exists to compare
    assert np.allclose(tuned.members_["session_ease"].item_weights_, direct.item_weights_)
    fixed = Ensemble(members=members, weights={"session_ease": 1.0}).fit(x, timestamps=t)
    assert np.allclose(fixed.members_["session_ease"].item_weights_, direct.item_weights_)
    untimed = Ensemble(members=members, weights={"session_ease": 1.0}).fit(x)
    assert not np.allclose(untimed.members_["session_ease"].item_weights_,
                           direct.item_weights_, atol=1e-3)


def test_ensemble_tuning_fits_its_members_on_the_fit_part_with_that_part_s_times(monkeypatch):
    from recsys.models import MODELS

    monkeypatch.setitem(MODELS, "spy", _TimeSpy)
    x, t = _sessions(n_users=60)
    _TimeSpy.seen = []
    Ensemble(members={"spy": {}, "ease": dict(lambda_reg=5.0)}, random_state=2).fit(
        x, timestamps=t)
    fit_part, times = _TimeSpy.seen[0]
    assert 0 < fit_part.nnz < x.nnz  # the validation split's fit part, not the whole
    rows, cols = fit_part.nonzero()
    assert np.array_equal(np.asarray(times[rows, cols]).ravel(), np.asarray(t[rows, cols]).ravel())
