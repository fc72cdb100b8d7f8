"""recsys.evaluation.tuning.HoldoutValidator: scoring and tuning weights over cached component
scores, on hand-made scores whose best weights are known, and the hold-out split itself."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.evaluation.tuning import HoldoutValidator, ScoreTable
from recsys.serving.ranker import COMPONENTS


def _validator(n_users: int = 4, n_items: int = 12, k: int = 3) -> HoldoutValidator:
    """Cached scores with a known answer: user u's held-out item is row u. "audio" ranks it first,
    "visual" ranks it last, every other component is flat; row n_items - 1 is in every
    history (not a candidate) and "popularity" would put it first."""
    v = HoldoutValidator.__new__(HoldoutValidator)  # the cached arrays only: no catalog, no fit
    # Only the catalog's item vectors are read (their count, for coverage; MMR with diversity).
    v.k, v.catalog = k, SimpleNamespace(embeddings=np.eye(n_items, dtype=np.float32))
    comps = {c: np.zeros((n_users, n_items), np.float32) for c in COMPONENTS}
    for u in range(n_users):
        comps["audio"][u, u] = 1.0
        comps["visual"][u] = 1.0
        comps["visual"][u, u] = 0.0
    comps["popularity"][:, n_items - 1] = 5.0
    cand = np.ones((n_users, n_items), bool)
    cand[:, n_items - 1] = False
    truth = sp.csr_matrix((np.ones(n_users, np.float32), (np.arange(n_users), np.arange(n_users))),
                          shape=(n_users, n_items))
    v.tables = {"val": ScoreTable([f"u{u}" for u in range(n_users)], comps, cand, truth)}
    return v


def test_ranked_rows_fuse_weights_and_skips_non_candidates():
    v = _validator()
    recs = v.ranked_rows({"audio": 1.0})
    assert recs.shape == (4, 3)
    np.testing.assert_array_equal(recs[:, 0], np.arange(4))          # the held-out item first
    assert not (v.ranked_rows({"popularity": 1.0}) == 11).any(), "a history item is never recommended"
    assert not (v.ranked_rows({"visual": 1.0}) == np.arange(4)[:, None]).any()


def test_metrics_are_exact_for_known_rankings():
    v = _validator()
    best = v.metrics({"audio": 1.0})
    assert best["ndcg@3"] == pytest.approx(1.0) and best["recall@3"] == 1.0 and best["n_users"] == 4
    worst = v.metrics({"visual": 1.0})
    assert worst["ndcg@3"] == 0.0 and worst["hit_rate@3"] == 0.0
    mixed = v.metrics({"audio": 1.0, "visual": 2.0})    # 2 for every other item beats 1 for the right one
    assert mixed["ndcg@3"] == 0.0
    assert 0 < v.metrics({"audio": 1.0})["coverage"] <= 1


def test_tune_finds_weights_that_rank_the_held_out_item_first():
    v = _validator()
    weights, value = v.tune(n_trials=40, seed=1)
    assert value == pytest.approx(1.0)
    assert weights["audio"] > weights["visual"]
    assert v.metrics(weights)["ndcg@3"] == pytest.approx(value)
    assert weights["diversity"] == 0.0 and set(COMPONENTS) <= set(weights)


def test_flat_components_get_no_weight_because_they_cannot_change_a_ranking():
    from recsys.evaluation.tuning import inert_components

    v = _validator()
    flat = inert_components(v.tables["val"])
    assert "audio" not in flat and "visual" not in flat and "popularity" not in flat
    assert flat == set(COMPONENTS) - {"audio", "visual", "popularity"}
    weights, _ = v.tune(n_trials=40, seed=1)
    assert all(weights[c] == 0.0 for c in flat)


def test_the_holdout_split_keeps_a_quarter_of_each_user_and_splits_users_in_two(monkeypatch):
    import pandas as pd

    from benchmarks.factories import synthetic_catalog
    from recsys.evaluation import tuning

    fits = []

    class NoFit:  # the hybrid's own tests fit it; here only the split and the caching are checked
        def __init__(self, catalog, seed):
            self.catalog = catalog

        def fit(self, train, user_text):
            fits.append(train)
            return self

        def component_scores(self, q):
            from recsys.serving.ranker import ComponentScores

            n = len(self.catalog)
            cand = np.ones(n, bool)
            cand[q.liked] = False
            return ComponentScores({c: np.zeros(n, np.float32) for c in COMPONENTS}, cand)

        def component_scores_many(self, queries):
            return [self.component_scores(q) for q in queries]

    monkeypatch.setattr(tuning, "HybridRecommender", NoFit)
    cat = synthetic_catalog(20)
    ids = list(cat.items["item_id"])
    inter = pd.DataFrame([(f"u{u}", ids[(u + j) % 20]) for u in range(6) for j in range(8)] + [("lone", ids[0])],
                         columns=["user_id", "item_id"])
    v = tuning.HoldoutValidator(cat, inter, {}, seed=0)
    train = fits[0]
    assert len(train) == 6 * 6 + 1, "each 8-item user holds out 2; a 1-item user holds out none"
    assert set(v.splits["val"]).isdisjoint(v.splits["test"])
    assert sorted(v.splits["val"] + v.splits["test"]) == [f"u{u}" for u in range(6)], "'lone' has nothing held out"
    assert len(v.splits["val"]) == 3
    for split, users in v.splits.items():
        truth = v.tables[split].truth.toarray()
        for r, u in enumerate(users):
            held = {ids[c] for c in np.flatnonzero(truth[r])}
            trained = set(train.loc[train["user_id"] == u, "item_id"])
            assert len(held) == 2 and held.isdisjoint(trained) and held | trained == set(
                inter.loc[inter["user_id"] == u, "item_id"])
            assert not v.tables[split].candidates[r, [cat.index(i) for i in trained]].any(), "history is not a candidate"
