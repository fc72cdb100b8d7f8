"""Principal component analysis: one centred SVD basis shared by every caller (the hybrid's item
features, the demo dataset's item features and the embedding map's fallback layout)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCABasis:
    """``mean`` (D,) and ``components`` (k, D) float32, rows orthonormal, by decreasing variance."""

    mean: np.ndarray
    components: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(n, k) float32 coordinates of the rows of X (n, D)."""
        return ((np.asarray(X, np.float32) - self.mean) @ self.components.T).astype(np.float32)


def fit_pca_basis(X: np.ndarray, n_components: int, *, pad: bool = False) -> PCABasis:
    """The top ``n_components`` principal axes of X (n, D) (exact SVD; fine up to ~10^5 x 10^3).

    With fewer rows than components the basis is shorter, unless ``pad``: then zero rows fill it,
    so that callers needing exactly ``n_components`` columns (a 2-D map of one item) get them.
    """
    X = np.asarray(X, np.float32)
    mean = X.mean(0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = vt[:n_components].astype(np.float32)
    if pad and comps.shape[0] < n_components:
        comps = np.vstack([comps, np.zeros((n_components - comps.shape[0], X.shape[1]), np.float32)])
    return PCABasis(mean=mean.astype(np.float32), components=comps)
