"""Content cosine: a user's profile is the weighted mean of the content vectors of their items.

For "content cosine per modality", fit one model per modality on that modality's block of the
item features (e.g. ``features[:, audio_slice]``) and fuse the scores in the ranker.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Recommender


class ContentCosine(Recommender):
    """score(u, i) = cos(sum_j w_uj f_j / sum_j w_uj, f_i) with f the L2-normalised item features.

    Parameters
    ----------
    random_state : int
        Unused (deterministic); kept so every model takes it.
    """

    requires_item_features = True

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> ContentCosine:
        features = self._check_item_features(item_features, user_items.shape[1])
        self._remember(user_items)
        self.item_vectors_ = _unit(features)  # (n_items, d)
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        # The weighted mean and the sum point the same way: normalising the sum is enough.
        profile = _unit(np.asarray(history @ self.item_vectors_))  # (n, d)
        return (profile @ self.item_vectors_.T).astype(np.float32)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_vectors_


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
