"""Item-based k-nearest-neighbours: cosine similarity between item columns of the matrix."""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .base import Recommender, top_k

_CHUNK_CELLS = 4_000_000  # dense cells per block when picking neighbours (~16 MB float32)


class ItemKNN(Recommender):
    """score(u, i) = sum over the user's items j of w_uj * sim(j, i), sim kept for j's top-K.

    Parameters
    ----------
    neighbours : int
        Neighbours kept per item (the rest of the similarity row is dropped).
    shrink : float
        Added to the cosine denominator, ``x_i.x_j / (|x_i||x_j| + shrink)``, so pairs seen
        together by very few users count less.
    random_state : int
        Unused (deterministic); kept so every model takes it.
    """

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, random_state: int = 0):
        self.neighbours = neighbours
        self.shrink = shrink
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> ItemKNN:
        if self.neighbours < 1 or self.shrink < 0:
            raise ConfigError("ItemKNN needs neighbours >= 1 and shrink >= 0")
        user_items = self._remember(user_items)
        item_users = user_items.T.tocsr()  # (n_items, n_users)
        norms = np.sqrt(np.asarray(item_users.multiply(item_users).sum(axis=1)).ravel())
        cooc = (item_users @ item_users.T).tocsr()  # (n_items, n_items) dot products
        self.similarity_ = sparse_top_k(  # row j: j's neighbours
            lambda a, b: cooc[a:b].toarray() / (norms[a:b, None] * norms[None, :] + self.shrink + 1e-12),
            self.n_items_, self.neighbours)
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        return np.asarray((history @ self.similarity_).todense(), dtype=np.float32)

    def similar_items(self, item_idx: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours by the stored (shrunk cosine) similarity; -1 pads."""
        self._check_fitted()
        sims = self.similarity_[np.atleast_1d(item_idx)].toarray()
        sims[sims <= 0] = -np.inf
        return top_k(sims, k)


def sparse_top_k(dense_rows: Callable[[int, int], np.ndarray], n_items: int, k: int) -> sp.csr_matrix:
    """(n_items, n_items) CSR keeping each row's ``k`` largest positive entries, diagonal dropped.

    ``dense_rows(start, stop)`` returns rows ``start:stop`` of the full item-item matrix as a dense
    (stop - start, n_items) array; rows are asked for in blocks of about ``_CHUNK_CELLS`` cells, so
    the dense matrix never exists whole.
    """
    k = min(k, n_items - 1)
    rows, cols, vals = [], [], []
    step = max(1, _CHUNK_CELLS // max(n_items, 1))
    for start in range(0, n_items if k >= 1 else 0, step):
        stop = min(start + step, n_items)
        block = dense_rows(start, stop)  # (b, n_items)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0  # no self-similarity
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]  # (b, k)
        top_vals = np.take_along_axis(block, top, axis=1)
        keep = top_vals > 0
        rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
        cols.append(top[keep])
        vals.append(top_vals[keep])
    return sp.csr_matrix((_cat(vals, np.float32), (_cat(rows, np.int64), _cat(cols, np.int64))),
                         shape=(n_items, n_items))


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
