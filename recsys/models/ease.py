"""EASE^R (Steck, 2019): a closed-form item-item linear autoencoder with a zero diagonal."""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..errors import ConfigError
from .base import Recommender

MAX_ITEMS = 30_000  # the dense (n_items, n_items) inverse needs ~7 GB in float64 beyond this


def closed_form(gram: np.ndarray, penalty: float) -> np.ndarray:
    """EASE's B (n_items, n_items) float32 for a Gram matrix (n_items, n_items), overwritten.

    ``B = argmin ||X - XB||^2 + penalty ||B||^2, diag(B) = 0`` with ``gram`` standing for
    ``X'X``: ``B = I - P diag(1 / diag(P))`` where ``P = (gram + penalty I)^-1``.
    """
    gram[np.diag_indices_from(gram)] += penalty
    precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    weights = -precision / np.diag(precision)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


class EASE(Recommender):
    """B = argmin ||X - XB||^2 + lambda ||B||^2 subject to diag(B) = 0; score = X_u B.

    Parameters
    ----------
    lambda_reg : float
        L2 penalty; larger values pull the item weights towards popularity.
    random_state : int
        Unused (closed form); kept so every model takes it.
    """

    def __init__(self, lambda_reg: float = 500.0, random_state: int = 0):
        self.lambda_reg = lambda_reg
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> EASE:
        if self.lambda_reg <= 0:
            raise ConfigError(f"EASE lambda_reg must be > 0, got {self.lambda_reg}")
        user_items = self._remember(user_items)
        if self.n_items_ > MAX_ITEMS:
            raise ConfigError(f"EASE keeps a dense item-item matrix; {self.n_items_} items is "
                              f"more than {MAX_ITEMS}")
        gram = (user_items.T @ user_items).toarray().astype(np.float64)  # (n_items, n_items)
        self.item_weights_ = closed_form(gram, self.lambda_reg)
        return self

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        return np.asarray(history @ self.item_weights_, dtype=np.float32)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_weights_.T  # column i: how each item predicts i
