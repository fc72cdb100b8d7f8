"""GF-CF (Shen et al., CIKM 2021): the closed-form limit of LightGCN-style propagation.

LightGCN's embeddings are smoothed over the normalised user-item graph; Shen et al. show that,
without training, the normalised item-item graph ``R~'R~`` with ``R~ = D_u^-1/2 R D_i^-1/2``
(a linear low-pass filter) plus an ideal low-pass filter on its top ``factors`` singular
vectors already ranks as well as the trained model. Score::

    s_u = r_u R~'R~ + ideal_weight * (r_u D_i^-1/2) V V' D_i^1/2
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg

from ..errors import ConfigError
from .base import Recommender


class GFCF(Recommender):
    """Graph filter: ``item_graph_`` (n_items, n_items) dense float32 and ideal-filter factors.

    Parameters
    ----------
    factors : int
        Singular vectors of ``R~`` kept by the ideal low-pass filter (0: linear filter only).
    ideal_weight : float
        Weight of the ideal low-pass part.
    random_state : int
        Seeds the sparse SVD's starting vector.
    """

    def __init__(self, factors: int = 64, ideal_weight: float = 0.3, random_state: int = 0):
        self.factors = factors
        self.ideal_weight = ideal_weight
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> GFCF:
        if self.factors < 0 or self.ideal_weight < 0:
            raise ConfigError("GFCF needs factors >= 0 and ideal_weight >= 0")
        user_items = self._remember(user_items)
        binary = user_items.copy()
        binary.data[:] = 1.0
        d_u = np.power(np.maximum(np.asarray(binary.sum(1)).ravel(), 1.0), -0.5)
        d_i = np.power(np.maximum(np.asarray(binary.sum(0)).ravel(), 1.0), -0.5)
        norm = (sp.diags(d_u) @ binary @ sp.diags(d_i)).tocsc()           # R~ (n_users, n_items)
        self.item_graph_ = np.asarray((norm.T @ norm).todense(), np.float32)  # (n_items, n_items)
        k = min(self.factors, min(norm.shape) - 1)
        if k >= 1 and self.ideal_weight > 0:
            v0 = np.random.default_rng(self.random_state).random(min(norm.shape))
            _, _, vt = scipy.sparse.linalg.svds(norm, k=k, v0=v0)
            self.left_ = (d_i[:, None] * vt.T).astype(np.float32)           # D_i^-1/2 V
            self.right_ = (vt / d_i[None, :]).astype(np.float32)            # V' D_i^1/2
        else:
            self.left_ = np.zeros((self.n_items_, 0), np.float32)
            self.right_ = np.zeros((0, self.n_items_), np.float32)
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        linear = np.asarray(history @ self.item_graph_)
        ideal = np.asarray(history @ self.left_) @ self.right_
        return (linear + self.ideal_weight * ideal).astype(np.float32)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_graph_
