"""2-D maps of the catalog's item vectors (UMAP, or PCA while UMAP is not ready) with queries
placed by ``transform()``.

UMAP's first fit in a process pays numba compilation (tens of seconds cold; cached on disk in
``NUMBA_CACHE_DIR`` afterwards), so callers fit it ahead of time or in the background and show
the PCA map meanwhile. Both methods share one interface.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from recsys.pca import fit_pca_basis


@dataclass
class EmbeddingMap:
    """A fitted 2-D layout. ``coords`` (n, 2) float32 for the fitted items."""

    method: str           # "umap" | "pca"
    coords: np.ndarray
    fit_seconds: float
    _model: object = None

    def transform(self, X: np.ndarray) -> np.ndarray:
        """(m, 2) positions of new vectors X (m, D) in this layout."""
        X = np.atleast_2d(np.asarray(X, np.float32))
        if self.method == "pca":
            return self._model.transform(X)
        return np.asarray(self._model.transform(X), np.float32)


def fit_pca(X: np.ndarray) -> EmbeddingMap:
    t0 = time.perf_counter()
    basis = fit_pca_basis(X, 2, pad=True)  # one item: a degenerate but valid layout
    return EmbeddingMap("pca", basis.transform(X), time.perf_counter() - t0, basis)


def fit_umap(X: np.ndarray, *, n_neighbors: int = 15, min_dist: float = 0.15, seed: int = 0) -> EmbeddingMap:
    """UMAP with cosine metric; ``n_neighbors`` is capped for small catalogs."""
    import umap

    t0 = time.perf_counter()
    X = np.asarray(X, np.float32)
    if len(X) < 5:
        return fit_pca(X)
    model = umap.UMAP(n_neighbors=min(n_neighbors, len(X) - 1), min_dist=min_dist, metric="cosine", n_jobs=1,
                      random_state=seed, n_components=2, low_memory=True)
    coords = model.fit_transform(X).astype(np.float32)
    return EmbeddingMap("umap", coords, time.perf_counter() - t0, model)


class BackgroundMap:
    """PCA at once; UMAP fitted in a daemon thread. ``current()`` returns the best ready map."""

    def __init__(self, X: np.ndarray, **umap_kwargs):
        self.pca = fit_pca(X)
        self.umap: EmbeddingMap | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._fit, args=(X,), kwargs=umap_kwargs, daemon=True)
        self._thread.start()

    def _fit(self, X, **kw):
        try:
            self.umap = fit_umap(X, **kw)
        except Exception as err:  # noqa: BLE001 -- a failed UMAP leaves the PCA map, and says why
            self.error = f"UMAP unavailable ({type(err).__name__}: {err})"

    def current(self) -> EmbeddingMap:
        return self.umap or self.pca

    def wait(self, timeout: float | None = None) -> EmbeddingMap:
        self._thread.join(timeout)
        return self.current()
