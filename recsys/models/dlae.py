"""EDLAE / DLAE (Steck, NeurIPS 2020): EASE with the L2 penalty that dropout implies.

Training a linear item-item autoencoder ``X -> X B`` under input dropout at rate ``p`` is, in
expectation, ridge regression with the per-item penalty ``Lambda = lambda I + p / (1 - p)
diag(X'X)``: popular items are penalised more, which keeps ``B`` away from the identity. With
``zero_diagonal`` (EDLAE) the diagonal is also constrained to zero, as in EASE, and the closed
form is EASE's with ``Lambda`` in place of ``lambda I``; without it (DLAE)
``B = (X'X + Lambda)^-1 X'X``.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ..errors import ConfigError
from .ease import EASE, MAX_ITEMS


class EDLAE(EASE):
    """Dropout-emphasised linear autoencoder; ``item_weights_`` (n_items, n_items), score X_u B.

    Scores as :class:`EASE`; only the penalty (and so ``item_weights_``) differs.

    Parameters
    ----------
    lambda_reg : float
        Constant L2 penalty (EASE's lambda).
    dropout : float
        Input dropout rate ``p`` in [0, 1); the penalty adds ``p / (1 - p) * diag(X'X)``.
    zero_diagonal : bool
        Constrain ``diag(B) = 0`` (EDLAE) or not (DLAE).
    random_state : int
        Unused (closed form); kept so every model takes it.
    """

    def __init__(self, lambda_reg: float = 100.0, dropout: float = 0.25,
                 zero_diagonal: bool = True, random_state: int = 0):
        self.lambda_reg = lambda_reg
        self.dropout = dropout
        self.zero_diagonal = zero_diagonal
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> EDLAE:
        if self.lambda_reg < 0 or not 0 <= self.dropout < 1:
            raise ConfigError("EDLAE needs lambda_reg >= 0 and 0 <= dropout < 1")
        user_items = self._remember(user_items)
        if self.n_items_ > MAX_ITEMS:
            raise ConfigError(f"EDLAE keeps a dense item-item matrix; {self.n_items_} items is "
                              f"more than {MAX_ITEMS}")
        gram = (user_items.T @ user_items).toarray().astype(np.float64)  # (n_items, n_items)
        # A tiny floor keeps items nobody interacted with from making the system singular.
        penalty = self.lambda_reg + self.dropout / (1 - self.dropout) * np.diag(gram) + 1e-6
        if self.zero_diagonal:
            gram[np.diag_indices_from(gram)] += penalty
            precision = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
            weights = -precision / np.diag(precision)[None, :]
            weights[np.diag_indices_from(weights)] = 0.0
        else:
            regularised = gram.copy()
            regularised[np.diag_indices_from(regularised)] += penalty
            # B = (G + Lambda)^-1 G = I - (G + Lambda)^-1 Lambda
            weights = np.eye(len(gram)) - scipy.linalg.solve(
                regularised, np.diag(penalty), assume_a="pos", check_finite=False)
        self.item_weights_ = weights.astype(np.float32)
        return self
