"""Content-to-CF projection: predict collaborative item factors from content vectors.

Following Spotify's content-to-CF idea (van den Oord et al., 2013): fit BPR on the interactions,
then a ridge regression from each item's content vector to its BPR item factors. A brand-new
item, which has content but no interactions, gets factors and so CF scores for every user.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .base import Recommender
from .bpr import BPR, user_vectors


class ContentToCF(Recommender):
    """Ridge map ``features -> BPR item factors``; scores use the *projected* factors of all items.

    ``score`` therefore measures how well content alone recovers CF (what a cold-start catalogue
    would get); use `BPR` itself for warm items and `score_new_items` for new ones.

    Parameters
    ----------
    alpha : float
        Ridge penalty of the projection.
    factors, epochs, lr, reg, batch_size, device :
        Settings of the inner `BPR` fitted by ``fit``.
    random_state : int
        Seeds the inner BPR.
    """

    requires_item_features = True

    def __init__(self, alpha: float = 1.0, factors: int = 64, epochs: int = 100, lr: float = 0.01,
                 reg: float = 0.01, batch_size: int = 4096, device: str | None = None,
                 random_state: int = 0):
        self.alpha = alpha
        self.factors = factors
        self.epochs = epochs
        self.lr = lr
        self.reg = reg
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> ContentToCF:
        self._check_item_features(item_features, user_items.shape[1])
        bpr = BPR(factors=self.factors, epochs=self.epochs, lr=self.lr, reg=self.reg,
                  batch_size=self.batch_size, device=self.device,
                  random_state=self.random_state).fit(user_items)
        return self.fit_from(bpr, item_features)

    def fit_from(self, bpr: BPR, item_features: np.ndarray) -> ContentToCF:
        """Fit only the projection, on an already fitted `BPR`; returns ``self``."""
        bpr._check_fitted()
        if self.alpha <= 0:
            raise ConfigError(f"ContentToCF alpha must be > 0, got {self.alpha}")
        features = self._check_item_features(item_features, bpr.n_items_).astype(np.float64)
        self._remember(bpr.user_items_)
        self.user_factors_ = bpr.user_factors_  # (n_users, f + 1), last column 1
        self.cf_item_factors_ = bpr.item_factors_  # (n_items, f + 1), last column bias
        # Centre both sides so the intercept is not penalised.
        self.feature_mean_ = features.mean(0)
        target_mean = self.cf_item_factors_.mean(0)
        x = features - self.feature_mean_
        gram = x.T @ x + self.alpha * np.eye(x.shape[1])
        self.projection_ = np.linalg.solve(gram, x.T @ (self.cf_item_factors_ - target_mean))
        self.intercept_ = (target_mean - self.feature_mean_ @ self.projection_)
        self.item_factors_ = self.predict_item_factors(features)
        return self

    def predict_item_factors(self, features: np.ndarray) -> np.ndarray:
        """CF item factors (n, f + 1) predicted from content vectors (n, d)."""
        self._check_fitted()
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if features.shape[1] != self.projection_.shape[0]:
            raise ConfigError(f"features must have {self.projection_.shape[0]} columns, "
                              f"got {features.shape[1]}")
        return (features @ self.projection_ + self.intercept_).astype(np.float32)

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        return self._user_vectors(user_idx, user_items) @ self.item_factors_.T

    def score_new_items(self, user_idx: np.ndarray, new_item_features: np.ndarray, *,
                        user_items: sp.csr_matrix | None = None) -> np.ndarray:
        """CF scores (len(user_idx), n_new) of items known only by content (n_new, d)."""
        factors = self.predict_item_factors(new_item_features)
        return self._user_vectors(user_idx, user_items) @ factors.T

    def _user_vectors(self, user_idx: np.ndarray, user_items: sp.csr_matrix | None
                      ) -> np.ndarray:
        # New users are folded in against the real CF factors, not the projected ones.
        self._check_fitted()
        return user_vectors(self, self.user_factors_, self.cf_item_factors_, user_idx, user_items)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_factors_[:, :-1]
