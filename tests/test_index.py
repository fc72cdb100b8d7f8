"""recsys.catalog.index: exact and HNSW search, projection, persistence, make_index, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.errors import ConfigError, RecsysError
from recsys.catalog.index import (ExactIndex, HNSWIndex, VectorIndex, fit_projection, load_index, make_index,
                          neighbour_recall, save_index)


def mixture(n: int, d: int = 64, *, clusters: int = 50, seed: int = 0, latent: int = 16, draw: int = 0) -> np.ndarray:
    """Realistic-ish clustered vectors: a Gaussian mixture with many clusters in a ``latent``-d
    space mapped into ``d`` dims plus a little isotropic noise (not isotropic noise alone, on
    which every ANN method looks bad and nothing is learned)."""
    rng = np.random.default_rng(seed)                  # the mixture itself
    centres = rng.normal(size=(clusters, latent))
    sizes = rng.dirichlet(np.ones(clusters))
    mapping = rng.normal(size=(latent, d))
    r = np.random.default_rng([seed, draw])             # the draws: ``draw`` picks other samples
    z = centres[r.choice(clusters, size=n, p=sizes)] + 0.35 * r.normal(size=(n, latent))
    x = z @ mapping + 0.3 * r.normal(size=(n, d))
    return x.astype(np.float32)


def brute_force(x, q, k):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = qn @ xn.T
    return np.argsort(-s, axis=1, kind="stable")[:, :k], -np.sort(-s, axis=1)[:, :k]


@pytest.fixture(scope="module")
def data():
    x = mixture(3000, seed=1)
    q = mixture(60, seed=1, draw=1)                    # same mixture, other draws
    return x, q


def test_exact_matches_brute_force(data):
    x, q = data
    ids, scores = ExactIndex().build(x).search(q, k=10)
    ref_ids, ref_scores = brute_force(x, q, 10)
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (60, 10)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-5)
    assert neighbour_recall(ids, ref_ids) == 1.0
    assert np.all(np.diff(scores, axis=1) <= 1e-7), "best first"


def test_exact_small_batches_and_torch_path_agree(data):
    x, q = data
    ref_ids, _ = ExactIndex().build(x).search(q, 5)
    tiny = ExactIndex(max_block_cells=5000).build(x)          # one query per block
    np.testing.assert_array_equal(tiny.search(q, 5)[0], ref_ids)
    torch_ids, torch_scores = ExactIndex(backend="torch").build(x).search(q, 5)
    assert neighbour_recall(torch_ids, ref_ids) == 1.0 and torch_scores.dtype == np.float32


def test_exact_does_not_modify_inputs(data):
    x, q = data
    x0, q0 = x.copy(), q.copy()
    index = ExactIndex().build(x)
    index.search(q, 3)
    index.search(q[0], 3)                                      # a 1-d query is one row
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(q, q0)


def test_fewer_items_than_k_pads():
    x = mixture(4, d=8)
    ids, scores = ExactIndex().build(x).search(x[:2], k=6)
    assert ids.shape == (2, 6) and set(ids[0, :4]) == {0, 1, 2, 3}
    assert np.all(ids[:, 4:] == -1) and np.all(np.isneginf(scores[:, 4:]))


def test_hnsw_recall_on_clustered_data(data):
    x, q = data
    ref_ids, _ = brute_force(x, q, 10)
    index = HNSWIndex(m=16, ef_construction=80, ef_search=64, threads=1).build(x)
    ids, scores = index.search(q, 10)
    assert len(index) == 3000 and ids.shape == (60, 10)
    assert neighbour_recall(ids, ref_ids) >= 0.95
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_projection_keeps_neighbours_and_rerank_restores_them():
    x = mixture(2000, d=300, latent=12, seed=3)
    q = mixture(40, d=300, latent=12, seed=3, draw=1)
    proj = fit_projection(x, 32)
    assert proj.components.shape == (32, 300) and 0.5 < proj.energy <= 1.0
    np.testing.assert_allclose(proj.components @ proj.components.T, np.eye(32), atol=1e-4)
    p = proj.apply(x[:5])
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    ref_ids, _ = brute_force(x, q, 10)
    index = ExactIndex(projection=proj).build(x)
    assert index.dim == 300 and index.stored_dim == 32
    assert neighbour_recall(index.search(q, 10)[0], ref_ids) >= 0.8
    full = x / np.linalg.norm(x, axis=1, keepdims=True)
    ids, scores = index.search(q, 10, rerank=full, candidates=60)
    assert neighbour_recall(ids, ref_ids) >= 0.98
    np.testing.assert_allclose(scores[:, 0], (q / np.linalg.norm(q, axis=1, keepdims=True) * full[ids[:, 0]]).sum(1),
                               rtol=1e-4)


def test_build_projected_equals_build(data):
    x, q = data
    proj = fit_projection(x, 16)
    a = HNSWIndex(projection=proj, threads=1).build(x)
    b = HNSWIndex(projection=proj, threads=1).build(proj.apply(x), projected=True)
    np.testing.assert_array_equal(a.search(q, 5)[0], b.search(q, 5)[0])


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_save_load_round_trip(data, tmp_path, kind):
    x, q = data
    proj = fit_projection(x, 24)
    index = (ExactIndex(projection=proj) if kind == "exact" else HNSWIndex(projection=proj, ef_search=40)).build(x)
    index.save(tmp_path / "ix")
    files = {p.name for p in (tmp_path / "ix").iterdir()}
    assert "index.json" in files and "projection.npz" in files
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "ix").iterdir())
    loaded = VectorIndex.load(tmp_path / "ix")
    assert type(loaded) is type(index) and len(loaded) == len(index) and loaded.dim == x.shape[1]
    for a, b in zip(index.search(q, 7), loaded.search(q, 7)):
        np.testing.assert_array_equal(a, b)
    if kind == "hnsw":
        assert loaded.ef_search == 40
        with pytest.raises(RecsysError):
            ExactIndex.load(tmp_path / "ix")       # wrong class for this folder


def test_catalog_helpers(data, tmp_path):
    x, q = data
    cat = tmp_path / "catalog"
    cat.mkdir()
    (cat / "meta.json").write_text(json.dumps({"built_at": "2026-01-01T00:00:00Z"}))
    assert load_index(cat) is None                                  # nothing saved yet
    index = ExactIndex().build(x)
    assert save_index(cat, index) == cat / "index"
    again = load_index(cat, n_items=len(x))
    np.testing.assert_array_equal(again.search(q, 3)[0], index.search(q, 3)[0])
    save_index(cat, HNSWIndex(threads=1).build(x))                  # replaces the old one
    assert isinstance(load_index(cat), HNSWIndex)
    assert sorted(p.name for p in cat.iterdir()) == ["index", "meta.json"]
    assert load_index(cat, n_items=len(x) + 1) is None              # other catalog size: stale
    (cat / "meta.json").write_text(json.dumps({"built_at": "2026-02-02T00:00:00Z"}))
    assert load_index(cat) is None                                  # catalog rebuilt: stale


def test_make_index_picks_by_size(data):
    x, _ = data
    assert isinstance(make_index(x), ExactIndex)
    small = make_index(x, threshold=1000, projection_dim=16, threads=1)
    assert isinstance(small, HNSWIndex) and small.projection.dim == 16
    assert isinstance(make_index(x, kind="hnsw", projection_dim=None), HNSWIndex)
    assert isinstance(make_index(x, kind="exact", threshold=10), ExactIndex)


@pytest.mark.parametrize("call", [
    lambda ix, x: ix.search(x[:, :10], 5),           # wrong dimension
    lambda ix, x: ix.search(x[:2], 0),               # k < 1
    lambda ix, x: ix.search(x[:2], -3),
    lambda ix, x: ix.search(x[:2], 2.5),
    lambda ix, x: ix.search(np.full((1, x.shape[1]), np.nan), 3),
    lambda ix, x: ExactIndex().search(x[:2], 3),     # never built
    lambda ix, x: ExactIndex().build(np.zeros((0, 4))),
    lambda ix, x: ExactIndex().build(np.zeros((3, 2, 2))),
    lambda ix, x: make_index(x, kind="lsh"),
    lambda ix, x: make_index(x, threshold=0),
    lambda ix, x: HNSWIndex(m=0),
    lambda ix, x: ExactIndex(backend="jax"),
    lambda ix, x: ix.search(x[:2], 3, rerank=x[:5]),  # rerank vectors not row-aligned
    lambda ix, x: fit_projection(x, 0),
])
def test_bad_inputs_raise_config_error(data, call):
    x, _ = data
    ix = ExactIndex().build(x)
    with pytest.raises(ConfigError):
        call(ix, x)


def test_hnsw_wrong_dim_and_cuda_absent(data):
    x, _ = data
    ix = HNSWIndex(threads=1).build(x[:500])
    with pytest.raises(ConfigError):
        ix.search(x[:2, :5], 3)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            ExactIndex(device="cuda")


def test_recall_at_k():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert neighbour_recall(exact, exact) == 1.0
    assert neighbour_recall(np.array([[1, 2, 9], [-1, -1, -1]]), exact) == pytest.approx(2 / 6)
    assert neighbour_recall(np.array([[3, 2, 1, 7], [6, 5, 4, 7]]), exact) == 1.0   # extra columns ignored


def test_load_rejects_options_of_another_kind(data, tmp_path):
    x, _ = data
    HNSWIndex(threads=1).build(x[:300]).save(tmp_path / "h")
    with pytest.raises(ConfigError):
        VectorIndex.load(tmp_path / "h", device="cpu")
    assert VectorIndex.load(tmp_path / "h", ef_search=20).ef_search == 20


def test_default_candidates_is_what_the_bench_measures():
    from benchmarks.bench import RERANK_CANDIDATES
    from recsys.catalog.index import default_candidates
    assert default_candidates(10) == RERANK_CANDIDATES == 100   # measured 0.973 recall@10 at 1M
    assert default_candidates(2000) == 8000 and default_candidates(1) == 100
    x = mixture(500, d=64, seed=5)
    index = ExactIndex(projection=fit_projection(x, 8)).build(x)
    full = x / np.linalg.norm(x, axis=1, keepdims=True)
    calls = []
    search = index._search
    index._search = lambda q, fetch: calls.append(fetch) or search(q, fetch)
    index.search(x[:2], 10, rerank=full)
    assert calls == [100]


def test_hnsw_leaves_torch_threads_alone(data):
    """``faiss.omp_set_num_threads`` reaches torch's OpenMP runtime: a one-query HNSW search runs
    FAISS on one thread, and must not leave torch (the matcher, the encoders) on one thread."""
    torch = pytest.importorskip("torch")
    x, q = data
    before = torch.get_num_threads()
    index = HNSWIndex(threads=2).build(x)
    index.search(q[:1], 10)
    assert torch.get_num_threads() == before
