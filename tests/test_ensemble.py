"""The validation-tuned Ensemble: weights come from a split of the fit data only, a useless
member is switched off, and the tuned blend beats its weakest member on held-out data."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.evaluation.metrics import ndcg_at_k
from recsys.models import MODELS, Ensemble, Recommender
from recsys.models.base import validation_split


class Noise(Recommender):
    """Scores that carry no information: uniform noise, fixed per (user row, item)."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, user_items, *, item_features=None, user_features=None):
        self._remember(user_items)
        return self

    def score(self, user_idx, *, user_items=None, user_features=None):
        history = self._history(np.atleast_1d(user_idx), user_items)
        rng = np.random.default_rng(self.random_state + 7)
        return rng.random(history.shape).astype(np.float32) * 10.0  # large scale on purpose


def _planted(seed: int = 0, n_users: int = 240, n_items: int = 120, n_groups: int = 4):
    """Taste groups; the most popular items belong to the largest group, which others avoid;
    inside a group's cluster, items are liked with Zipf-like probabilities.

    Returns (train csr, held-out csr) of shape (n_users, n_items)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(n_groups, n_users, p=[0.4, 0.2, 0.2, 0.2])
    cluster = np.arange(n_items) % n_groups
    appeal = 1.0 / np.arange(1, n_items // n_groups + 1)  # within a cluster, by item rank
    train, held = np.zeros((n_users, n_items), np.float32), np.zeros((n_users, n_items))
    for u in range(n_users):
        own = rng.choice(np.flatnonzero(cluster == group[u]), 16, replace=False,
                         p=appeal / appeal.sum())
        other = rng.choice(np.flatnonzero(cluster != group[u]), 2, replace=False)  # stray clicks
        train[u, own[:12]], held[u, own[12:]] = 1.0, 1.0
        train[u, other] = 1.0
    return sp.csr_matrix(train), sp.csr_matrix(held)


def _heldout_ndcg(model: Recommender, train, held) -> float:
    users = np.arange(train.shape[0])
    ids, _ = model.recommend(users, train, k=10)
    return ndcg_at_k(ids, held, 10)


@pytest.fixture
def with_noise(monkeypatch):
    monkeypatch.setitem(MODELS, "noise", Noise)


def test_useless_member_gets_little_weight_and_the_blend_keeps_the_good_one(with_noise):
    train, held = _planted()
    members = {"ease": dict(lambda_reg=20.0), "noise": {}}
    tuned = Ensemble(members=members).fit(train)
    # Noise may keep a little weight (it breaks EASE's near-ties at random), far less than EASE.
    assert tuned.weights_["noise"] < 0.5 * tuned.weights_["ease"], tuned.weights_
    assert tuned.validation_ndcg_["ensemble"] >= tuned.validation_ndcg_["ease"] - 1e-9
    # Equal weights (an untuned blend) let the noise, z-scored like EASE, push good items out.
    fixed = Ensemble(members=members, weights={"ease": 1.0, "noise": 1.0}).fit(train)
    ease = MODELS["ease"](lambda_reg=20.0).fit(train)
    ndcg = {"tuned": _heldout_ndcg(tuned, train, held), "fixed": _heldout_ndcg(fixed, train, held),
            "ease": _heldout_ndcg(ease, train, held)}
    assert ndcg["tuned"] >= ndcg["ease"] - 0.02, ndcg
    assert ndcg["fixed"] < ndcg["ease"] - 0.05, ndcg


def test_tuned_blend_beats_its_weakest_member_on_heldout_data():
    train, held = _planted(seed=1)
    members = {"popularity": {}, "item_knn": dict(neighbours=20, shrink=0.0),
               "ials": dict(factors=8, reg=1.0, iterations=5)}
    ensemble = Ensemble(members=members, random_state=3).fit(train)
    scores = {name: _heldout_ndcg(MODELS[name](**params, random_state=3).fit(train), train, held)
              for name, params in members.items()}
    blend = _heldout_ndcg(ensemble, train, held)
    assert blend > min(scores.values()) + 0.2, (blend, scores)
    assert blend >= max(scores.values()) - 0.05, (blend, scores)


@pytest.mark.parametrize("n_splits", [1, 2])
def test_weights_are_chosen_on_the_validation_split_of_the_fit_data_only(n_splits):
    """The weights are the coordinate-ascent optimum of the mean NDCG over validation_split(fit
    data, seed + 1), (seed + 2), ...: recomputed here from those splits alone, they come out the
    same; the held-out part of the benchmark (``held``) is never an input."""
    train, _ = _planted(seed=2)
    members = {"ease": dict(lambda_reg=20.0), "popularity": {}}
    ensemble = Ensemble(members=members, grid=(0.0, 0.5, 1.0), passes=2, random_state=5,
                        validation_splits=n_splits)
    ensemble.fit(train)
    splits = []
    for seed in range(6, 6 + n_splits):
        fit_part, val_part = validation_split(train, 0.25, seed=seed)
        users = np.flatnonzero(np.diff(val_part.indptr))
        history = fit_part[users]
        normalised = {}
        for name, params in members.items():
            member = MODELS[name](**params, random_state=5).fit(fit_part)
            normalised[name] = ensemble._normalised(member.score(users, user_items=history),
                                                    history)
        splits.append((history, val_part[users], normalised))

    def quality(weights):
        total = 0.0
        for history, truth, normalised in splits:
            fused = sum(weights[n] * normalised[n] for n in members)
            rows, cols = history.nonzero()
            fused[rows, cols] = -np.inf
            order = np.argsort(-fused, axis=1, kind="stable")[:, :10]
            total += ndcg_at_k(order, truth, 10)
        return total / len(splits)

    weights = {n: 1.0 for n in members}
    best = quality(weights)
    for _ in range(2):
        for name in members:
            for value in (0.0, 0.5, 1.0):
                trial = {**weights, name: value}
                if any(trial.values()) and quality(trial) > best + 1e-9:
                    best, weights = quality(trial), trial
    assert ensemble.weights_ == weights
    assert ensemble.validation_ndcg_["ensemble"] == pytest.approx(best, abs=1e-6)


def test_given_weights_skip_tuning_and_bad_options_raise():
    train, _ = _planted(seed=3)
    model = Ensemble(members={"ease": dict(lambda_reg=20.0), "popularity": {}},
                     weights={"ease": 2.0}).fit(train)
    assert model.weights_ == {"ease": 2.0, "popularity": 0.0} and model.validation_ndcg_ == {}
    assert set(model.members_) == {"ease"}  # a zero-weight member is not fitted
    ease = MODELS["ease"](lambda_reg=20.0).fit(train)
    users = np.arange(5)
    np.testing.assert_allclose(model.score(users),
                               2.0 * model._normalised(ease.score(users), train[users]),
                               rtol=1e-5, atol=1e-5)
    for bad in (dict(members={"nope": {}}), dict(members={}), dict(normalise="rank"),
                dict(members={"ease": {}}, weights={"ease": 0.0}),
                dict(members={"ease": {}}, weights={"popularity": 1.0}),
                dict(members={"ensemble": {}}), dict(validation_splits=0)):
        with pytest.raises(ConfigError):
            Ensemble(**bad).fit(train)


@pytest.mark.parametrize("normalise", ["zscore", "minmax"])
def test_normalisation_ignores_seen_items(normalise):
    model = Ensemble(normalise=normalise)
    scores = np.array([[100.0, 1.0, 2.0, 3.0]])
    history = sp.csr_matrix(np.array([[1.0, 0, 0, 0]]))
    out = model._normalised(scores, history)[0, 1:]
    if normalise == "zscore":
        assert out.mean() == pytest.approx(0.0, abs=1e-6) and out.std() == pytest.approx(1.0)
    else:
        np.testing.assert_allclose(out, [0.0, 0.5, 1.0])
