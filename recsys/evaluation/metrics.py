"""Top-K ranking metrics, vectorised over users.

Inputs everywhere: ``recommended`` (n_users, >=K) int64 item columns, best first, ``-1`` for
padding; ``relevant`` a CSR matrix (n_users, n_items) whose stored entries are the held-out items
of the same users (binary relevance). Users with no relevant item are left out of the means,
as in Microsoft Recommenders' evaluation. Definitions follow that library too: precision divides
by K, recall by |relevant|, NDCG uses ``1 / log2(rank + 1)`` with the ideal DCG over
``min(K, |relevant|)`` hits.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.errors import ConfigError

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")


def hits(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Boolean (n_users, k): is the item at each rank relevant for its user."""
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2 or recommended.shape[0] != relevant.shape[0]:
        raise ConfigError(f"recommended must be (n_users={relevant.shape[0]}, k), "
                          f"got {recommended.shape}")
    if k < 1 or k > recommended.shape[1]:
        raise ConfigError(f"k must be in 1..{recommended.shape[1]}, got {k}")
    top = recommended[:, :k]
    rel = sp.csr_matrix(relevant)
    rel.sum_duplicates()  # also sorts indices, which searchsorted below needs
    n_items = rel.shape[1]
    # Relevant (user, item) pairs as sorted keys user * n_items + item; membership = searchsorted.
    keys = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr)) * n_items \
        + rel.indices
    probe = np.arange(len(top), dtype=np.int64)[:, None] * n_items + top
    if not len(keys):
        return np.zeros(top.shape, bool)
    pos = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    return (keys[pos] == probe) & (top >= 0)


def _n_relevant(relevant: sp.csr_matrix) -> np.ndarray:
    rel = sp.csr_matrix(relevant)
    rel.sum_duplicates()
    return np.diff(rel.indptr)


def ranking_metrics(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10
                    ) -> dict[str, float]:
    """All of `RANKING_METRICS` at ``k`` in one pass, as ``{"ndcg@10": ..., ...}``."""
    hit = hits(recommended, relevant, k).astype(np.float64)  # (n, k)
    n_rel = _n_relevant(relevant).astype(np.float64)
    users = n_rel > 0
    if not users.any():
        raise ConfigError("no user has a relevant item: nothing to evaluate")
    hit, n_rel = hit[users], n_rel[users]
    ranks = np.arange(1, k + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    ideal = np.cumsum(discount)[np.minimum(n_rel, k).astype(np.int64) - 1]
    first = np.where(hit.any(1), hit.argmax(1) + 1, np.inf)  # rank of the first hit
    # Average precision: precision at each hit rank, over min(K, |relevant|).
    precision_at = np.cumsum(hit, 1) / ranks
    per_user = {
        "precision": hit.sum(1) / k,
        "recall": hit.sum(1) / n_rel,
        "ndcg": (hit * discount).sum(1) / ideal,
        "map": (precision_at * hit).sum(1) / np.minimum(n_rel, k),
        "mrr": 1.0 / first,
        "hit_rate": hit.any(1).astype(np.float64),
    }
    return {f"{name}@{k}": float(per_user[name].mean()) for name in RANKING_METRICS}


def precision_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of (relevant items in the top k) / k."""
    return ranking_metrics(recommended, relevant, k)[f"precision@{k}"]


def recall_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of (relevant items in the top k) / |relevant|."""
    return ranking_metrics(recommended, relevant, k)[f"recall@{k}"]


def ndcg_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean binary NDCG@k, ideal DCG over min(k, |relevant|) hits."""
    return ranking_metrics(recommended, relevant, k)[f"ndcg@{k}"]


def map_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean average precision@k, normalised by min(k, |relevant|)."""
    return ranking_metrics(recommended, relevant, k)[f"map@{k}"]


def mrr_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant item within the top k (0 when none)."""
    return ranking_metrics(recommended, relevant, k)[f"mrr@{k}"]


def hit_rate_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Share of users with at least one relevant item in the top k."""
    return ranking_metrics(recommended, relevant, k)[f"hit_rate@{k}"]


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Catalogue coverage: distinct items recommended to anyone / n_items."""
    ids = np.asarray(recommended).ravel()
    return float(len(np.unique(ids[ids >= 0])) / n_items) if n_items else 0.0


def intra_list_diversity(recommended: np.ndarray, item_features: np.ndarray) -> float:
    """Mean over lists of 1 - mean pairwise cosine between the listed items' feature vectors.

    ``item_features`` is (n_items, d). Padding (-1) is ignored; lists with fewer than two
    items are left out. Returns NaN when no list qualifies.
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    feats = np.asarray(item_features, dtype=np.float64)
    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    valid = recommended >= 0  # (n, k)
    vecs = unit[np.maximum(recommended, 0)] * valid[..., None]  # (n, k, d); padding -> zeros
    gram = np.einsum("nkd,nld->nkl", vecs, vecs)  # (n, k, k) pairwise cosines
    count = valid.sum(1).astype(np.float64)
    pairs = count * (count - 1)  # ordered pairs, diagonal excluded
    off_diag = gram.sum((1, 2)) - np.einsum("nkk->n", gram)
    ok = pairs > 0
    if not ok.any():
        return float("nan")
    return float(np.mean(1.0 - off_diag[ok] / pairs[ok]))
