"""Session-aware EASE: EASE^R whose item-item Gram matrix also counts items met close in time.

Two items a person rates (or plays) within minutes of each other were most often found on the
same page, list or binge, so they predict each other better than two items the same person met
months apart. Plain EASE (Steck, 2019) weighs both pairs alike. This model adds a temporal
co-occurrence matrix to the Gram matrix before the closed-form solve::

    C[i, j] = sum_u  exp(-|t_ui - t_uj| / tau)            over users u who have both i and j
    G       = X'X + beta * C                               (n_items, n_items)
    B       = argmin ||X - XB||^2 (with G for X'X) + lambda (1 + beta) ||B||^2,  diag(B) = 0
    score_u = X_u B

``C`` has the same pattern as ``X'X`` with each pair's count discounted by its time gap, so
``G`` is ``X'X`` plus a share of it concentrated on close pairs; the penalty is scaled by ``1 +
beta`` because ``G``'s diagonal is ``1 + beta`` times ``X'X``'s. Without timestamps (or with all of
them equal) ``C = X'X`` and the model is exactly ``EASE(lambda_reg)``.

On MovieLens-100K, where 51 % of consecutive ratings by a user share the same second (a submitted
page), ``tau = 300`` s, ``beta = 2`` and ``lambda = 300`` were chosen on validation data only
(benchmarks/movielens_tune.py); see benchmarks/movielens.py for the test figures.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from .ease import EASE, MAX_ITEMS, closed_form


class SessionEASE(EASE):
    """EASE over ``X'X + session_weight * C_tau`` (see the module docstring); needs timestamps.

    Parameters
    ----------
    lambda_reg : float
        L2 penalty per unit of Gram diagonal (the solve uses ``lambda_reg * (1 +
        session_weight)``).
    session_weight : float
        ``beta``: weight of the temporal co-occurrence ``C`` against the plain counts ``X'X``;
        0 is plain EASE.
    time_scale_s : float
        ``tau`` in seconds: two events ``tau`` apart count ``1/e`` of two simultaneous ones.
    random_state : int
        Unused (closed form); kept so every model takes it.

    Attributes
    ----------
    item_weights_ : np.ndarray
        ``B``, (n_items, n_items) float32, zero diagonal.
    """

    #: fit takes ``timestamps``, a CSR matrix of event times with ``user_items``' pattern
    uses_timestamps = True

    def __init__(self, lambda_reg: float = 300.0, session_weight: float = 2.0,
                 time_scale_s: float = 300.0, random_state: int = 0):
        self.lambda_reg = lambda_reg
        self.session_weight = session_weight
        self.time_scale_s = time_scale_s
        self.random_state = random_state

    def fit(self, user_items: sp.csr_matrix, *, item_features: np.ndarray | None = None,
            user_features: np.ndarray | None = None,
            timestamps: sp.csr_matrix | None = None) -> SessionEASE:
        """``timestamps``: (n_users, n_items) CSR of event times in seconds, entries where
        ``user_items`` has them (`Interactions.to_timestamp_csr`); None: all events simultaneous
        (plain EASE)."""
        if self.lambda_reg <= 0:
            raise ConfigError(f"SessionEASE lambda_reg must be > 0, got {self.lambda_reg}")
        if self.session_weight < 0 or self.time_scale_s <= 0:
            raise ConfigError("SessionEASE needs session_weight >= 0 and time_scale_s > 0, got "
                              f"{self.session_weight} and {self.time_scale_s}")
        user_items = self._remember(user_items)
        if self.n_items_ > MAX_ITEMS:
            raise ConfigError(f"SessionEASE keeps a dense item-item matrix; {self.n_items_} "
                              f"items is more than {MAX_ITEMS}")
        gram = (user_items.T @ user_items).toarray().astype(np.float64)  # (n_items, n_items)
        if self.session_weight:
            # Without times every pair is simultaneous and C is X'X itself.
            cooc = gram if timestamps is None else self._time_cooccurrence(user_items, timestamps)
            gram = gram + self.session_weight * cooc
        self.item_weights_ = closed_form(gram, self.lambda_reg * (1.0 + self.session_weight))
        return self

    def _time_cooccurrence(self, user_items: sp.csr_matrix,
                           timestamps: sp.csr_matrix) -> np.ndarray:
        """``C`` (n_items, n_items) float64: per user, ``x_ui x_uj exp(-|t_ui - t_uj| / tau)``."""
        times = sp.csr_matrix(timestamps, dtype=np.float64)
        if times.shape != user_items.shape:
            raise ConfigError(f"timestamps must have user_items' shape {user_items.shape}, got "
                              f"{times.shape}")
        times.sort_indices()
        values = user_items.copy()
        values.sort_indices()
        if (times.indptr.shape != values.indptr.shape or np.any(times.indptr != values.indptr)
                or np.any(times.indices != values.indices)):
            raise ConfigError("timestamps must have an entry exactly where user_items has one")
        n_items = user_items.shape[1]
        cooc = np.zeros((n_items, n_items))
        # One user at a time: a user's items are distinct, so the block update has no repeats.
        # Cost sum_u n_u^2 (MovieLens-100K: 0.5 s).
        for u in range(user_items.shape[0]):
            lo, hi = values.indptr[u], values.indptr[u + 1]
            if lo == hi:
                continue
            items, x, t = values.indices[lo:hi], values.data[lo:hi], times.data[lo:hi]
            kernel = np.exp(-np.abs(t[:, None] - t[None, :]) / self.time_scale_s)
            cooc[np.ix_(items, items)] += x[:, None] * x[None, :] * kernel
        return cooc
