"""Most-popular baseline: every user gets the same ranking by number of interacting users."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import Recommender


class Popularity(Recommender):
    """Score of an item = number of distinct users who interacted with it at fit.

    Parameters
    ----------
    random_state : int
        Unused (the model is deterministic); kept so every model takes it.
    """

    personalised = False

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> Popularity:
        user_items = self._remember(user_items)
        # Count users, not summed weights, so one heavy listener cannot dominate.
        self.item_counts_ = np.bincount(user_items.indices, minlength=self.n_items_).astype(
            np.float32)  # (n_items,)
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        self._check_fitted()
        n = len(np.atleast_1d(user_idx))
        return np.broadcast_to(self.item_counts_, (n, self.n_items_)).copy()
