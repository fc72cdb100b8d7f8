"""RP3beta (Paudel et al., 2017; Dacrema et al., 2019): a popularity-discounted 3-step random walk.

The walk goes user -> item -> user -> item over the bipartite graph with row-normalised
transition matrices ``P_ui`` (n_users, n_items) and ``P_iu`` (n_items, n_users), each entry
raised to ``alpha``; the item-item matrix ``W = P_iu P_ui`` is divided column-wise by the
arrival item's popularity to the power ``beta`` (so that the walk does not always end on the
blockbusters), and only each row's ``neighbours`` largest entries are kept. ``score = X_u W``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .item_knn import ItemKNN, sparse_top_k



class RP3beta(ItemKNN):
    """Item-item random-walk model; ``similarity_`` (n_items, n_items) CSR, row j: j's targets.

    Scores and ``similar_items`` as :class:`ItemKNN` (``X_u W`` over the kept entries); only the
    item-item matrix differs.

    Parameters
    ----------
    alpha : float
        Exponent on the transition probabilities (1 is the plain walk).
    beta : float
        Popularity discount: column i is divided by ``popularity_i ** beta`` (0: none).
    neighbours : int
        Entries kept per row of the item-item matrix.
    random_state : int
        Unused (deterministic); kept so every model takes it.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, neighbours: int = 200,
                 random_state: int = 0):
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> RP3beta:
        if self.alpha <= 0 or self.beta < 0 or self.neighbours < 1:
            raise ConfigError("RP3beta needs alpha > 0, beta >= 0 and neighbours >= 1")
        user_items = self._remember(user_items)
        binary = user_items.copy()
        binary.data[:] = 1.0
        p_ui = _row_normalise(binary).power(self.alpha)            # (n_users, n_items)
        p_iu = _row_normalise(binary.T.tocsr()).power(self.alpha)  # (n_items, n_users)
        popularity = np.asarray(binary.sum(0)).ravel()             # (n_items,) users per item
        discount = np.power(np.maximum(popularity, 1.0), -self.beta).astype(np.float32)
        walk = (p_iu @ p_ui).tocsr()                               # (n_items, n_items)
        self.similarity_ = sparse_top_k(lambda a, b: walk[a:b].toarray() * discount[None, :],
                                        self.n_items_, self.neighbours)
        return self


def _row_normalise(mat: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to sum to 1 (empty rows stay empty)."""
    sums = np.asarray(mat.sum(1)).ravel()
    return sp.diags(1.0 / np.maximum(sums, 1e-12)).astype(np.float32) @ mat
