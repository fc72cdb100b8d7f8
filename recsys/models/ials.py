"""iALS (Hu, Koren & Volinsky, 2008; as revisited by Rendle et al., 2021): implicit matrix
factorisation by alternating least squares with a uniform weight on unobserved pairs.

With ``X`` the binary (n_users, n_items) matrix, user factors ``U`` (n_users, f) and item factors
``V`` (n_items, f) minimise::

    sum_{(u,i) observed} (1 - u_u.v_i)^2 + alpha0 * sum_{all (u,i)} (u_u.v_i)^2
        + sum_u reg_u ||u_u||^2 + sum_i reg_i ||v_i||^2

with ``reg_r = reg * (n_r + alpha0 * m)^nu`` for a row with ``n_r`` observed items out of ``m``:
``nu = 0`` (``reg_exponent``) is one penalty for every vector, ``nu = 1`` the frequency-scaled
regularisation of Rendle et al. (2021), which penalises heavy users and popular items in
proportion to how much data pulls on them.

Each half-step is exact: ``u_u = (alpha0 V'V + V_u'V_u + reg_u I)^-1 V_u'1`` with ``V_u`` the
rows of ``V`` for the user's items (and the same for items). ``alpha0`` (``unobserved_weight``) well
below 1 is what makes it rank well (Rendle et al.). Scores fold the query history in with one
such user half-step against the learned ``V``, so a new user is scored exactly as a known one.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .base import Recommender

_SOLVE_BLOCK = 512  # rows whose (f, f) systems are solved in one batched call


class IALS(Recommender):
    """``user_factors_`` (n_users, f), ``item_factors_`` (n_items, f); score = fold-in(X_u) V'.

    Parameters
    ----------
    factors : int
        Width ``f`` of the user and item vectors.
    reg : float
        L2 penalty on every user and item vector (scaled per row by ``reg_exponent``).
    unobserved_weight : float
        ``alpha0``, the weight of every (user, item) pair pulled towards 0 (observed pairs
        pull towards 1 with weight 1).
    iterations : int
        Alternating sweeps (users, then items); a last user sweep follows.
    reg_exponent : float
        ``nu``: each row's penalty is ``reg * (n_r + unobserved_weight * m)^nu``; 0 = uniform.
    init_std : float
        Item vectors start as N(0, (init_std / sqrt(f))^2).
    random_state : int
        Seeds the initial item vectors.
    """

    def __init__(self, factors: int = 128, reg: float = 3.0, unobserved_weight: float = 0.05,
                 iterations: int = 10, reg_exponent: float = 0.0, init_std: float = 0.1,
                 random_state: int = 0):
        self.factors = factors
        self.reg = reg
        self.unobserved_weight = unobserved_weight
        self.iterations = iterations
        self.reg_exponent = reg_exponent
        self.init_std = init_std
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None) -> IALS:
        if (self.factors < 1 or self.reg <= 0 or self.unobserved_weight < 0 or self.iterations < 1
                or self.reg_exponent < 0):
            raise ConfigError("IALS needs factors >= 1, reg > 0, unobserved_weight >= 0, "
                              "iterations >= 1 and reg_exponent >= 0")
        user_items = self._remember(user_items)
        binary = user_items.copy()
        binary.data[:] = 1.0
        item_users = binary.T.tocsr()
        rng = np.random.default_rng(self.random_state)
        items = rng.normal(0.0, self.init_std / np.sqrt(self.factors),
                           (self.n_items_, self.factors))
        for _ in range(self.iterations):
            users = self._half_step(binary, items)
            items = self._half_step(item_users, users)
        self.item_factors_ = items.astype(np.float32)
        self.user_factors_ = self._half_step(binary, items).astype(np.float32)
        return self

    def _half_step(self, rows: sp.csr_matrix, other: np.ndarray) -> np.ndarray:
        """Exact least-squares vectors for every row of ``rows`` (n, m) given ``other`` (m, f)."""
        other = np.asarray(other, dtype=np.float64)
        f = other.shape[1]
        base = self.unobserved_weight * (other.T @ other)
        out = np.zeros((rows.shape[0], f))
        indptr, indices = rows.indptr, rows.indices
        counts = np.diff(indptr).astype(np.float64)
        reg = self.reg * (counts + self.unobserved_weight * other.shape[0]) ** self.reg_exponent  # (n,)
        for start in range(0, rows.shape[0], _SOLVE_BLOCK):
            stop = min(start + _SOLVE_BLOCK, rows.shape[0])
            lhs = base[None] + reg[start:stop, None, None] * np.eye(f)[None]  # (b, f, f)
            rhs = np.zeros((stop - start, f))
            for r in range(start, stop):
                seen = other[indices[indptr[r]:indptr[r + 1]]]  # (n_r, f)
                if len(seen):
                    lhs[r - start] += seen.T @ seen
                    rhs[r - start] = seen.sum(0)
            out[start:stop] = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        return out

    def score(self, user_idx: np.ndarray, *, user_items: sp.csr_matrix | None = None,
              user_features: np.ndarray | None = None) -> np.ndarray:
        history = self._history(np.atleast_1d(np.asarray(user_idx, dtype=np.int64)), user_items)
        history = history.copy()
        history.data[:] = 1.0
        users = self._half_step(history, self.item_factors_)  # (n, f) fold-in
        return (users @ self.item_factors_.T).astype(np.float32)

    def _item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_factors_
