"""recsys.serving.embedding_map: the PCA and UMAP layouts and the background fit, on point sets
whose layout is known (a plane in a higher space, well separated clusters)."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.serving.embedding_map import BackgroundMap, EmbeddingMap, fit_pca, fit_umap


def _plane(n: int = 50, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) points on a 2-D plane through a random offset, and their (n, 2) plane coordinates."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, 2)))          # (d, 2) orthonormal columns
    uv = rng.normal(size=(n, 2)) * np.array([3.0, 1.0])         # distinct variances: axes are defined
    return (uv @ basis.T + rng.normal(size=d)).astype(np.float32), uv


def _clusters(n_per: int = 20, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two tight clusters around opposite unit directions, and each row's cluster (0 or 1)."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=d)
    centre /= np.linalg.norm(centre)
    X = np.vstack([centre + 0.05 * rng.normal(size=(n_per, d)), -centre + 0.05 * rng.normal(size=(n_per, d))])
    return X.astype(np.float32), np.repeat([0, 1], n_per)


def test_pca_recovers_a_plane_up_to_rotation_and_keeps_distances():
    X, uv = _plane()
    m = fit_pca(X)
    assert m.method == "pca" and m.coords.shape == (50, 2) and m.coords.dtype == np.float32
    assert m.fit_seconds >= 0
    # Points on a plane: the 2-D layout is an isometry of it, so pairwise distances are kept.
    def dists(a):
        return np.linalg.norm(a[:, None] - a[None], axis=-1)
    np.testing.assert_allclose(dists(m.coords), dists(uv), atol=1e-3)
    assert m.coords[:, 0].var() > m.coords[:, 1].var(), "first axis has the larger variance"


def test_pca_transform_places_a_fitted_point_where_the_fit_put_it():
    X, _ = _plane()
    m = fit_pca(X)
    np.testing.assert_allclose(m.transform(X[7]), m.coords[7:8], atol=1e-4)   # (D,) -> (1, 2)
    assert m.transform(X[:3]).shape == (3, 2) and m.transform(X[:3]).dtype == np.float32


def test_pca_of_one_item_is_a_degenerate_but_valid_layout():
    m = fit_pca(np.ones((1, 5), np.float32))
    assert m.coords.shape == (1, 2) and np.allclose(m.coords, 0)
    assert m.transform(np.zeros(5)).shape == (1, 2)


def test_umap_below_five_items_falls_back_to_pca():
    X, _ = _plane(n=4)
    assert fit_umap(X).method == "pca"


@pytest.mark.slow  # numba compiles UMAP on its first fit in a process: tens of seconds cold
def test_umap_keeps_clusters_apart_and_transform_lands_in_the_right_one():
    X, cluster = _clusters()
    m = fit_umap(X, seed=0)
    assert m.method == "umap" and m.coords.shape == (40, 2)
    centres = np.stack([m.coords[cluster == c].mean(0) for c in (0, 1)])
    spread = max(np.linalg.norm(m.coords[cluster == c] - centres[c], axis=1).max() for c in (0, 1))
    assert np.linalg.norm(centres[0] - centres[1]) > 2 * spread
    placed = m.transform(X[:1] + 0.01)
    assert np.linalg.norm(placed[0] - centres[0]) < np.linalg.norm(placed[0] - centres[1])


def test_background_map_serves_pca_until_umap_is_ready_and_reports_a_failure(monkeypatch):
    import threading

    from recsys.serving import embedding_map

    release = threading.Event()
    fitted = EmbeddingMap("umap", np.zeros((6, 2), np.float32), 0.0, None)

    def slow_umap(X, **kw):  # stands in for a UMAP fit that is still running
        assert kw == {"seed": 3}
        release.wait(10)
        return fitted

    monkeypatch.setattr(embedding_map, "fit_umap", slow_umap)
    X, _ = _plane(n=6)
    bg = BackgroundMap(X, seed=3)
    assert bg.current() is bg.pca and bg.pca.method == "pca"
    release.set()
    assert bg.wait(10) is fitted and bg.error is None

    def broken(X, **kw):
        raise RuntimeError("numba missing")

    monkeypatch.setattr(embedding_map, "fit_umap", broken)
    bg = BackgroundMap(X)
    assert bg.wait(10) is bg.pca
    assert bg.error == "UMAP unavailable (RuntimeError: numba missing)"
