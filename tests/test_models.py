"""One shared suite that every model in MODELS passes, then model-specific checks.

Synthetic data with a known answer: two user groups, two disjoint item clusters; each group
interacts only with its own cluster. Held-out items of a user's own cluster must rank above
every item of the other cluster. Item features carry the cluster (plus noise), so content
models can learn it too.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError, UnknownIdError
from recsys.evaluation.metrics import ndcg_at_k
from recsys.models import (
    BPR,
    EASE,
    EDLAE,
    GFCF,
    IALS,
    MODELS,
    ContentToCF,
    ItemKNN,
    Matcher,
    NotFittedError,
    Popularity,
    Recommender,
    RP3beta,
)
from recsys.models.base import validation_split

N_PER_GROUP, N_PER_CLUSTER = 30, 20
N_USERS, N_ITEMS = 2 * N_PER_GROUP, 2 * N_PER_CLUSTER

# Small, fast settings; the defaults are tuned for MovieLens-sized data.
FAST_PARAMS = {
    "bpr": dict(factors=8, epochs=40, batch_size=128, lr=0.05, reg=1e-3),
    "content_to_cf": dict(factors=8, epochs=40, batch_size=128, lr=0.05, reg=1e-3),
    "item_knn": dict(neighbours=10),
    "ease": dict(lambda_reg=10.0),
    "matcher": dict(hidden=(16,), embedding_dim=8, epochs=15, batch_size=32, lr=1e-2,
                    negatives=16, patience=3),
    "rp3beta": dict(neighbours=10),
    "edlae": dict(lambda_reg=10.0),
    "gfcf": dict(factors=4),
    "multvae": dict(hidden=32, latent=8, epochs=60, batch_size=16, lr=1e-2, anneal_steps=100),
    "ials": dict(factors=8, reg=1.0, iterations=5),
    "session_ease": dict(lambda_reg=10.0),
    "ensemble": dict(members={"ease": dict(lambda_reg=10.0), "rp3beta": dict(neighbours=10),
                              "ials": dict(factors=8, reg=1.0, iterations=5)}),
}


def make_data(seed: int = 0):
    """(train csr, held-out csr, item features, group per user, cluster per item)."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1], N_PER_GROUP)
    cluster = np.repeat([0, 1], N_PER_CLUSTER)
    train, held = np.zeros((N_USERS, N_ITEMS), np.float32), np.zeros((N_USERS, N_ITEMS))
    for u in range(N_USERS):
        own = np.flatnonzero(cluster == group[u])
        chosen = rng.permutation(own)[:14]
        train[u, chosen[:11]] = 1.0
        held[u, chosen[11:]] = 1.0
    features = np.eye(2, dtype=np.float32)[cluster] + 0.1 * rng.standard_normal(
        (N_ITEMS, 2)).astype(np.float32)
    features = np.hstack([features, 0.1 * rng.standard_normal((N_ITEMS, 4)).astype(np.float32)])
    return sp.csr_matrix(train), sp.csr_matrix(held), features, group, cluster


DATA = make_data()


def build(name: str, random_state: int = 0) -> Recommender:
    return MODELS[name](**FAST_PARAMS.get(name, {}), random_state=random_state)


def fit(model: Recommender) -> Recommender:
    train, _, features, _, _ = DATA
    return model.fit(train, item_features=features)


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request):
    return request.param, fit(build(request.param))


# ------------------------------------------------------------------------ shared suite
def test_fit_returns_self(fitted):
    name, model = fitted
    assert isinstance(model, MODELS[name])
    assert model.n_users_ == N_USERS and model.n_items_ == N_ITEMS


def test_score_shape_and_dtype(fitted):
    _, model = fitted
    scores = model.score(np.array([0, 5, 40]))
    assert scores.shape == (3, N_ITEMS) and scores.dtype == np.float32
    assert np.isfinite(scores).all()


def test_recommend_excludes_seen_and_sorts(fitted):
    _, model = fitted
    train = DATA[0]
    users = np.arange(N_USERS)
    ids, scores = model.recommend(users, train[users], k=5)
    assert ids.shape == scores.shape == (N_USERS, 5) and ids.dtype == np.int64
    assert not np.take_along_axis(train.toarray(), ids, axis=1).any()  # no training item back
    assert (np.diff(scores, axis=1) <= 0).all()


def test_recommend_restricted_to_items(fitted):
    _, model = fitted
    allowed = np.array([1, 3, 25, 33])
    ids, _ = model.recommend(np.array([0, 1]), None, k=3, items=allowed,
                             filter_already_liked=False)
    assert np.isin(ids, allowed).all()


def test_deterministic_under_random_state(fitted):
    name, model = fitted
    again = fit(build(name))
    np.testing.assert_array_equal(model.score(np.arange(N_USERS)), again.score(np.arange(N_USERS)))


def test_save_load_round_trip(fitted, tmp_path):
    name, model = fitted
    path = model.save(tmp_path / name)
    assert path.suffix == ".npz"
    for loader in (Recommender, MODELS[name]):
        loaded = loader.load(path)
        assert type(loaded) is MODELS[name]
        assert loaded.get_params() == json.loads(json.dumps(model.get_params()))  # tuples->lists
        np.testing.assert_array_equal(loaded.score(np.arange(N_USERS)),
                                      model.score(np.arange(N_USERS)))


def test_learns_the_clusters(fitted):
    """Held-out own-cluster items outrank every other-cluster item (pairwise AUC near 1)."""
    name, model = fitted
    if not model.personalised:
        pytest.skip("same ranking for everyone")
    _, held, _, group, cluster = DATA
    scores = model.score(np.arange(N_USERS))
    auc = []
    for u in range(N_USERS):
        pos = scores[u, held[u].indices]
        neg = scores[u, cluster != group[u]]
        auc.append((pos[:, None] > neg[None, :]).mean())
    assert np.mean(auc) > 0.95, (name, np.mean(auc))


def test_new_user_scored_from_history(fitted):
    """A persona (-1) who liked cluster-1 items gets cluster 1 ranked first, no refit."""
    _, model = fitted
    if not model.personalised:
        pytest.skip("same ranking for everyone")
    cluster = DATA[4]
    history = sp.csr_matrix(np.isin(np.arange(N_ITEMS), [21, 24, 28, 30]).astype(np.float32)[None])
    ids, _ = model.recommend(np.array([-1]), history, k=5)
    assert (cluster[ids[0]] == 1).all()


def test_unknown_user_without_history_raises(fitted):
    _, model = fitted
    if not model.personalised:
        pytest.skip("same ranking for everyone")
    with pytest.raises(UnknownIdError):
        model.score(np.array([N_USERS + 3]))


def test_similar_items_stay_in_the_cluster(fitted):
    _, model = fitted
    if not model.personalised:
        with pytest.raises(NotImplementedError):
            model.similar_items(np.array([0]))
        return
    cluster = DATA[4]
    ids, scores = model.similar_items(np.array([0, 35]), k=5)
    assert ids.shape == scores.shape == (2, 5)
    assert 0 not in ids[0] and 35 not in ids[1]  # never the item itself
    assert (cluster[ids[0]] == 0).mean() >= 0.8 and (cluster[ids[1]] == 1).mean() >= 0.8


@pytest.mark.parametrize("name", sorted(MODELS))
def test_not_fitted_raises(name):
    with pytest.raises(NotFittedError):
        build(name).score(np.array([0]))


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if MODELS[n].requires_item_features])
def test_item_features_required(name):
    with pytest.raises(ConfigError, match="item_features"):
        build(name).fit(DATA[0])


# ------------------------------------------------------------------------ model-specific
def test_popularity_ranks_by_user_count():
    mat = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], np.float32))
    ids, _ = Popularity().fit(mat).recommend(np.array([0]), None, k=3,
                                             filter_already_liked=False)
    assert ids[0].tolist() == [1, 2, 0]


def test_item_knn_keeps_top_neighbours_and_similar_items():
    model = fit(ItemKNN(neighbours=3, shrink=0.0))
    assert (np.diff(model.similarity_.indptr) <= 3).all()
    assert model.similarity_.diagonal().sum() == 0
    ids, scores = model.similar_items(np.array([0, 30]), k=3)
    cluster = DATA[4]
    assert (cluster[ids[0]] == 0).all() and (cluster[ids[1]] == 1).all()
    assert (scores > 0).all()


def test_ease_matches_closed_form():
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]],
                               np.float32))
    model = EASE(lambda_reg=0.5).fit(x)
    b = model.item_weights_
    assert np.allclose(np.diag(b), 0)
    # Stationarity of the Lagrangian: (X'X + lambda I) B - X'X is zero off the diagonal.
    gram = (x.T @ x).toarray()
    residual = (gram + 0.5 * np.eye(4)) @ b - gram
    assert np.allclose(residual - np.diag(np.diag(residual)), 0, atol=1e-4)


def test_bpr_loss_decreases_and_sgd_runs():
    model = fit(BPR(**FAST_PARAMS["bpr"]))
    losses = model.history_["train_loss"]
    assert len(losses) == 40 and losses[-1] < losses[0]
    assert np.allclose(model.user_factors_[:, -1], 1.0)
    sgd = fit(BPR(factors=4, epochs=2, optimizer="sgd", lr=0.1))
    assert sgd.item_factors_.shape == (N_ITEMS, 5)
    with pytest.raises(ConfigError):
        fit(BPR(optimizer="rmsprop"))


def _fold_in_reference(item_factors, liked, neg, reg, steps):
    """The fold-in objective minimised with torch autograd and torch's Adam, one user at a time."""
    import torch

    v = torch.from_numpy(item_factors)
    out = []
    for row, cand in zip(liked, neg):
        pos = torch.from_numpy(np.flatnonzero(row))
        negs = torch.from_numpy(cand[~row[cand]])
        user = torch.zeros(v.shape[1] - 1, requires_grad=True)
        opt = torch.optim.Adam([user], lr=0.1)
        for _ in range(steps):
            x = v[:, :-1] @ user + v[:, -1]
            margin = x[pos][:, None] - x[negs][None, :]
            loss = torch.nn.functional.softplus(-margin).mean() + reg * user.square().sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append(user.detach().numpy())
    return np.stack(out)


@pytest.mark.parametrize("n_items", [40, 700])  # every item a negative; a sample of 300
def test_bpr_fold_in_matches_autograd_and_is_the_same_alone_or_batched(n_items):
    from recsys.models.bpr import _fold_in_block, _history_rng, fold_in

    rng = np.random.default_rng(3)
    items = rng.normal(0, 0.3, (n_items, 9)).astype(np.float32)
    liked = rng.random((12, n_items)) < rng.uniform(0.02, 0.3, (12, 1))
    liked[0] = False
    liked[0, [1, 5]] = True  # a short history beside long ones: padding must not leak
    history = sp.csr_matrix(liked.astype(np.float32))
    batch = fold_in(items, history, reg=0.01, steps=30)
    assert batch.shape == (12, 9) and np.all(batch[:, -1] == 1.0)
    for r in (0, 7):
        assert np.allclose(fold_in(items, history[r], reg=0.01, steps=30), batch[r], atol=1e-5)
    neg = (np.broadcast_to(np.arange(n_items), (12, n_items)) if n_items <= 300
           else np.stack([_history_rng(row).choice(n_items, 300, replace=False) for row in liked]))
    ours = _fold_in_block(items, liked, neg, int(liked.sum(1).max()), 0.01, 30)
    assert np.allclose(ours, batch[:, :-1])
    assert np.allclose(ours, _fold_in_reference(items, liked, neg, 0.01, 30), atol=1e-4)


def test_matcher_history_and_user_features():
    train, _, features, group, cluster = DATA
    user_feats = np.eye(2, dtype=np.float32)[group]  # (n_users, 2): the group, as a persona text
    model = Matcher(**FAST_PARAMS["matcher"]).fit(train, item_features=features,
                                                 user_features=user_feats)
    hist = model.history_
    n_epochs = len(hist["train_loss"])
    assert 1 <= n_epochs <= 15 and len(hist["val_ndcg"]) == n_epochs
    assert 0 <= hist["best_epoch"] < n_epochs
    assert len(hist["refit_train_loss"]) == hist["best_epoch"] + 1  # refit for the best count
    # A new user with no history, described only by user features, still gets a ranking.
    empty = sp.csr_matrix((1, N_ITEMS), dtype=np.float32)
    ids, _ = model.recommend(np.array([-1]), empty, k=5, user_features=np.array([[0.0, 1.0]]))
    assert (cluster[ids[0]] == 1).mean() >= 0.8
    with pytest.raises(UnknownIdError):
        model.score(np.array([-1]), user_items=empty)  # user features needed for a new user


def _planted(seed: int = 0, n_users: int = 200, n_items: int = 120, n_groups: int = 4):
    """Taste groups with popularity that misleads: each group likes its own quarter of the
    catalog; the globally most liked items are those of the largest group, which the others
    never touch. Content is pure noise, so only the learned embeddings can carry the groups."""
    rng = np.random.default_rng(seed)
    group = rng.choice(n_groups, n_users, p=[0.4, 0.2, 0.2, 0.2])
    cluster = np.arange(n_items) % n_groups
    train, held = np.zeros((n_users, n_items), np.float32), np.zeros((n_users, n_items))
    for u in range(n_users):
        own = rng.permutation(np.flatnonzero(cluster == group[u]))[:16]
        train[u, own[:12]], held[u, own[12:]] = 1.0, 1.0
    return (sp.csr_matrix(train), sp.csr_matrix(held),
            rng.standard_normal((n_items, 4)).astype(np.float32))


@pytest.mark.slow
def test_matcher_learns_beyond_popularity_when_content_is_noise():
    train, held, noise = _planted()
    model = Matcher(hidden=(32,), embedding_dim=16, epochs=40, batch_size=32, lr=1e-2,
                    negatives=32, patience=5).fit(train, item_features=noise)
    users = np.arange(train.shape[0])
    ndcg = {}
    for name, fitted in (("matcher", model), ("popularity", Popularity().fit(train))):
        ids, _ = fitted.recommend(users, train, k=10)
        ndcg[name] = ndcg_at_k(ids, held, 10)
    assert ndcg["matcher"] > ndcg["popularity"] + 0.2, ndcg


def test_matcher_scores_unseen_items_from_content_alone():
    """New clips (never in training) get scores from content: each group prefers its own."""
    train, _, features, group, _ = DATA
    model = fit(build("matcher"))
    new = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]], np.float32)  # one per cluster
    scores = model.score_new_items(np.arange(N_USERS), new)               # (n_users, 2)
    assert scores.shape == (N_USERS, 2)
    assert (scores.argmax(1) == group).mean() > 0.9
    anonymous = model.score_new_items(np.array([-1]), new, user_items=train[[0]])
    assert anonymous.argmax(1)[0] == group[0]  # a history with no user id works too
    with pytest.raises(ConfigError):
        model.score_new_items(np.array([0]), np.ones((1, 3), np.float32))


def test_matcher_rejects_bad_options():
    for bad in (dict(loss="hinge"), dict(mask_fraction=1.0), dict(id_dropout=1.0)):
        with pytest.raises(ConfigError):
            fit(Matcher(**bad))


def test_matcher_bpr_loss_learns_the_clusters():
    train, held, _, group, cluster = DATA
    model = fit(Matcher(**{**FAST_PARAMS["matcher"], "loss": "bpr"}))
    scores = model.score(np.arange(N_USERS))
    own = scores[np.arange(N_USERS)[:, None], np.flatnonzero(cluster == 1)[None, :]].mean(1)
    other = scores[np.arange(N_USERS)[:, None], np.flatnonzero(cluster == 0)[None, :]].mean(1)
    assert ((own > other) == (group == 1)).mean() > 0.9


def test_validation_split_is_the_stratified_split():
    train = DATA[0]
    fit_part, val_part = validation_split(train, 0.25, seed=3)
    assert fit_part.shape == val_part.shape == train.shape
    assert (fit_part + val_part != train).nnz == 0 and fit_part.multiply(val_part).nnz == 0
    n = np.diff(train.indptr)
    assert (np.diff(val_part.indptr) == n - np.clip(np.round(0.75 * n), 1, n - 1)).all()
    again, _ = validation_split(train, 0.25, seed=3)
    assert (again != fit_part).nnz == 0
    with pytest.raises(ConfigError):
        validation_split(train, 1.5, seed=0)


def test_edlae_without_dropout_is_ease_and_dlae_solves_its_system():
    x = DATA[0]
    ease = EASE(lambda_reg=10.0).fit(x)
    np.testing.assert_allclose(EDLAE(lambda_reg=10.0, dropout=0.0).fit(x).item_weights_,
                               ease.item_weights_, atol=1e-4)
    dlae = EDLAE(lambda_reg=10.0, dropout=0.3, zero_diagonal=False).fit(x)
    gram = (x.T @ x).toarray().astype(np.float64)
    penalty = np.diag(10.0 + 0.3 / 0.7 * np.diag(gram))
    np.testing.assert_allclose((gram + penalty) @ dlae.item_weights_, gram, atol=1e-3)


def test_rp3beta_matches_the_dense_walk():
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]],
                               np.float32))
    model = RP3beta(alpha=1.0, beta=0.5, neighbours=3).fit(x)
    dense = x.toarray()
    walk = (dense.T / dense.T.sum(1, keepdims=True)) @ (dense / dense.sum(1, keepdims=True))
    walk = walk / np.sqrt(dense.sum(0))[None, :]
    np.fill_diagonal(walk, 0.0)
    np.testing.assert_allclose(model.similarity_.toarray(), walk, rtol=1e-5)


def test_gfcf_linear_part_is_the_normalised_item_graph():
    x = DATA[0]
    model = GFCF(ideal_weight=0.0).fit(x)
    dense = x.toarray()
    norm = dense / np.sqrt(dense.sum(1, keepdims=True)) / np.sqrt(np.maximum(dense.sum(0), 1))
    np.testing.assert_allclose(model.item_graph_, norm.T @ norm, atol=1e-5)


def test_ials_half_steps_solve_their_least_squares_and_fold_in_matches():
    """User vectors satisfy (a0 V'V + V_u'V_u + reg I) u = V_u'1; scores fold the history in."""
    x = DATA[0]
    model = IALS(factors=6, reg=0.5, unobserved_weight=0.1, iterations=4).fit(x)
    items = model.item_factors_.astype(np.float64)
    dense = x.toarray()
    for u in (0, 37):
        seen = items[dense[u] > 0]
        lhs = 0.1 * items.T @ items + seen.T @ seen + 0.5 * np.eye(6)
        np.testing.assert_allclose(lhs @ model.user_factors_[u], seen.sum(0), atol=1e-4)
    users = np.arange(N_USERS)
    np.testing.assert_allclose(model.score(users), model.user_factors_ @ model.item_factors_.T,
                               atol=1e-4)
    with pytest.raises(ConfigError):
        IALS(reg=0.0).fit(x)
    with pytest.raises(ConfigError):
        IALS(reg_exponent=-1.0).fit(x)


def test_ials_frequency_scaled_regularisation_penalises_each_row_by_its_count():
    """With reg_exponent nu the user system is (a0 V'V + V_u'V_u + reg (n_u + a0 m)^nu I) u = V_u'1."""
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((30, 25)) < np.linspace(0.1, 0.6, 30)[:, None]).astype(np.float32))
    model = IALS(factors=6, reg=0.05, unobserved_weight=0.1, iterations=4, reg_exponent=1.0).fit(x)
    items = model.item_factors_.astype(np.float64)
    dense = x.toarray()
    counts = dense.sum(1)
    u0, u1 = int(np.argmin(counts)), int(np.argmax(counts))
    assert counts[u0] < counts[u1]  # two users with different penalties
    for u in (u0, u1):
        seen = items[dense[u] > 0]
        reg_u = 0.05 * (counts[u] + 0.1 * x.shape[1])
        lhs = 0.1 * items.T @ items + seen.T @ seen + reg_u * np.eye(6)
        np.testing.assert_allclose(lhs @ model.user_factors_[u], seen.sum(0), atol=1e-4)


def test_multvae_loss_decreases():
    model = fit(build("multvae"))
    losses = model.history_["train_loss"]
    assert len(losses) == FAST_PARAMS["multvae"]["epochs"] and losses[-1] < losses[0]


def test_content_to_cf_scores_new_items():
    train, _, features, group, _ = DATA
    model = ContentToCF(**FAST_PARAMS["content_to_cf"]).fit(train, item_features=features)
    new = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]], np.float32)  # one per cluster
    assert model.predict_item_factors(new).shape == (2, 9)
    scores = model.score_new_items(np.arange(N_USERS), new)  # (n_users, 2)
    prefers = scores.argmax(1)
    assert (prefers == group).mean() > 0.9
    with pytest.raises(ConfigError):
        model.predict_item_factors(np.ones((1, 3)))


def test_history_shape_is_checked():
    model = fit(EASE(lambda_reg=10.0))
    with pytest.raises(ConfigError, match="one row per query user"):
        model.score(np.array([0, 1]), user_items=DATA[0][:3])


def test_matcher_scores_raw_profiles():
    """A content vector used directly as the preference (a new clip as a one-item history)."""
    train, _, features, _, cluster = DATA
    model = fit(build("matcher"))
    scores = model.score_profiles(features[[25]])  # (1, n_items) for a cluster-1 item
    assert scores.shape == (1, N_ITEMS)
    assert (cluster[np.argsort(-scores[0])[:10]] == 1).mean() >= 0.8
