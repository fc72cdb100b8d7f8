"""Nearest-neighbour search over item vectors behind one interface: exact or HNSW (FAISS).

Scores are inner products of L2-normalised vectors (cosine similarity); every index normalises
what it stores and every query itself, so callers may pass raw vectors.

* :class:`ExactIndex` -- brute force: numpy matmul + ``argpartition`` in query batches sized so
  the (queries, items) score block stays under ``max_block_cells`` floats; on a CUDA device the
  vectors live on the GPU as one torch tensor and each batch of queries makes one round trip.
* :class:`HNSWIndex` -- FAISS ``IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``.
* :func:`make_index` -- exact below ``threshold`` items, HNSW on a 256-d PCA projection above it.

Projection (:func:`fit_projection`): item vectors have over 3,000 dimensions (:func:`recsys.analysis.item_vector.vector_dim`); a
flat full-width HNSW over a large catalog would hold every full vector and pay the full dimension
in every distance. Large indexes therefore store the vectors projected on a 256-d PCA basis
(uncentred: the top right singular vectors of a 10k sample of the normalised item vectors, so
inner products, not distances to the mean, are what the basis keeps best) and normalised again;
queries go through the same projection, and the basis is saved with the index. The projection
alone loses recall as the catalog grows (neighbours are dense at scale, and the energy left out
reorders close ones); re-scoring candidates with the full vectors
(``search(q, k, rerank=catalog.embeddings, candidates=...)``) restores it. Hence the default,
:func:`default_candidates`: ``max(4 * k, 100)``. So: project to search, re-rank to answer.
(``python -m recsys bench --only search`` measures the recall and latency of each choice;
``benchmarks/README.md`` records the figures.)

Persistence: ``save(folder)`` writes ``index.json`` (kind, parameters, sizes), ``projection.npz``
when there is one, and ``vectors.npz`` (exact) or ``hnsw.faiss`` (FAISS ``write_index``);
nothing is pickled. :func:`save_index` / :func:`load_index` put an index inside a catalog folder
(``<catalog>/index/``) and refuse a stale one.
"""
from __future__ import annotations

import abc
import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.errors import ConfigError, RecsysError

INDEX_FORMAT = 1
DEFAULT_THRESHOLD = 50_000
DEFAULT_PROJECTION_DIM = 256


# --- helpers ---------------------------------------------------------------------------------

def _as_matrix(x, name: str = "vectors") -> np.ndarray:
    """(n, d) float32 C-contiguous; raises ConfigError for anything else (1-d is one row)."""
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name} must be a numeric array: {err}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ConfigError(f"{name} must have shape (n, d) with d >= 1, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ConfigError(f"{name} contain NaN or infinite values")
    return np.ascontiguousarray(arr)


def _normalise(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Rows divided by their L2 norm (zero rows stay zero), float32."""
    out = x if inplace else x.copy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _is_fresh(x: np.ndarray, original) -> bool:
    """True when ``x`` is a new array, not memory the caller still owns (safe to modify)."""
    return not (isinstance(original, np.ndarray) and np.may_share_memory(x, original))


def default_candidates(k: int) -> int:
    """Candidates an approximate search re-ranks for a top-``k`` answer: ``max(4 * k, 100)``.

    At 1M clustered items 40 candidates for a top-10 gave recall@10 0.942 and 100 gave 0.973
    (see the module docstring); large ``k`` (a retrieval pool) is well served by 4x."""
    return max(4 * k, 100)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def default_threads() -> int:
    """CPUs this process may run on (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def neighbour_recall(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean over queries of |approx top-k ∩ exact top-k| / k, with k = ``exact_ids.shape[1]``.

    Both are (m, k) integer arrays (approx may have more columns: only the first k count);
    ``-1`` (FAISS's "no result") never matches.
    """
    a, e = np.atleast_2d(np.asarray(approx_ids)), np.atleast_2d(np.asarray(exact_ids))
    if a.shape[0] != e.shape[0]:
        raise ConfigError(f"approx and exact ids disagree on the number of queries: {a.shape} vs {e.shape}")
    k = e.shape[1]
    if k == 0 or e.shape[0] == 0:
        return float("nan")
    hits = [len(np.intersect1d(ar[:k][ar[:k] >= 0], er[er >= 0])) for ar, er in zip(a, e)]
    return float(np.mean(hits) / k)


def _rerank(q: np.ndarray, ids: np.ndarray, full: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores of candidate ``ids`` (m, c) against ``full`` vectors (n, d; float16/32, may
    be a memmap: only the m*c candidate rows are read); best ``k`` of each row."""
    m, c = ids.shape
    step = max(1, 4_000_000 // max(1, c * q.shape[1]))       # gathered block <= 16 MB
    exact = np.empty((m, c), np.float32)
    safe = np.where(ids >= 0, ids, 0)
    for s in range(0, m, step):
        rows = np.asarray(full[safe[s:s + step].ravel()], dtype=np.float32).reshape(-1, c, q.shape[1])
        exact[s:s + step] = np.einsum("mcd,md->mc", rows, q[s:s + step])
    exact[ids < 0] = -np.inf
    order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(exact, order, axis=1)


# --- projection ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Projection:
    """A linear map to a compact basis followed by L2 normalisation.

    components : (dim, in_dim) float32, orthonormal rows
    mean       : (in_dim,) float32, subtracted first (zeros for the default uncentred basis)
    energy     : fraction of the fit sample's squared norm the basis keeps
    """

    components: np.ndarray
    mean: np.ndarray
    energy: float = float("nan")

    @property
    def in_dim(self) -> int:
        return int(self.components.shape[1])

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(m, in_dim) -> (m, dim) float32, rows L2-normalised."""
        x = _as_matrix(x)
        if x.shape[1] != self.in_dim:
            raise ConfigError(f"vectors have dimension {x.shape[1]}, the projection expects {self.in_dim}")
        if np.any(self.mean):
            x = x - self.mean
        return _normalise((x @ self.components.T).astype(np.float32, copy=False), inplace=True)

    def save(self, path: Path) -> None:
        np.savez(path, components=self.components, mean=self.mean, energy=np.float64(self.energy))

    @classmethod
    def load(cls, path: Path) -> Projection:
        with np.load(path, allow_pickle=False) as z:
            return cls(components=z["components"].astype(np.float32), mean=z["mean"].astype(np.float32),
                       energy=float(z["energy"]))


def fit_projection(vectors: np.ndarray, dim: int = DEFAULT_PROJECTION_DIM, *, sample: int = 10_000,
                   center: bool = False, seed: int = 0) -> Projection:
    """PCA basis of ``dim`` components fitted on (at most ``sample``) rows of ``vectors`` (n, D).

    Rows are L2-normalised first (the index searches normalised vectors). With ``center=False``
    (default) the basis is the top right singular vectors of the uncentred sample, which best
    preserves inner products; ``center=True`` is classic PCA. The basis comes from a randomized
    SVD (Halko et al. 2011; 2 power iterations, 32 oversamples) of the sample: about 2 s for
    10k x 3127 on 2 quiet cores, where a full eigendecomposition of the 3127 x 3127 Gram matrix
    took 10x longer. When the sample has fewer rows or columns than ``dim``, the basis has that
    many components.
    """
    from sklearn.utils.extmath import randomized_svd

    x = _as_matrix(vectors)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ConfigError(f"projection dim must be an integer >= 1, got {dim!r}")
    if len(x) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), size=sample, replace=False))
        x = x[rows]
    x = _normalise(x.copy())
    mean = x.mean(0) if center else np.zeros(x.shape[1], np.float32)
    xc = x - mean if center else x
    total = float(np.einsum("ij,ij->", xc, xc, dtype=np.float64)) or 1.0
    k = min(int(dim), *xc.shape)
    if k >= min(xc.shape) - 1:      # tiny inputs: an exact SVD is cheap and exact
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
    else:
        _, s, vt = randomized_svd(xc, k, n_oversamples=32, n_iter=2, random_state=seed)
    comps, kept = vt[:k], float((s[:k].astype(np.float64) ** 2).sum())
    return Projection(components=np.ascontiguousarray(comps, dtype=np.float32),
                      mean=mean.astype(np.float32), energy=min(kept / total, 1.0))


# --- indexes ---------------------------------------------------------------------------------

class VectorIndex(abc.ABC):
    """Top-k by cosine similarity. ``build`` then ``search``; ``save``/``load`` to a folder.

    ``projection`` (optional): vectors and queries pass through it before indexing/searching,
    so callers always pass full-dimension vectors (``self.dim`` is the input dimension).
    """

    kind: str = "abstract"

    def __init__(self, *, projection: Projection | None = None):
        self.projection = projection
        self.dim: int | None = None          # input dimension (before projection)
        self.build_seconds: float = float("nan")

    # -- public API ----------------------------------------------------------------------------
    def build(self, vectors: np.ndarray, *, projected: bool = False) -> VectorIndex:
        """Index ``vectors`` (n, d); row i gets id i. Returns self.

        ``projected=True``: the rows are already ``self.projection.apply(...)`` output (n, dim),
        e.g. projected chunk by chunk for a catalog too large to hold at full dimension.
        """
        x = _as_matrix(vectors)
        if len(x) == 0:
            raise ConfigError("cannot build an index over 0 vectors")
        if projected and self.projection is None:
            raise ConfigError("projected=True needs an index with a projection")
        expected = (self.projection.dim if projected else self.projection.in_dim) if self.projection else None
        if expected is not None and x.shape[1] != expected:
            raise ConfigError(f"vectors have dimension {x.shape[1]}, the projection expects {expected}")
        t0 = time.perf_counter()
        self.dim = self.projection.in_dim if projected else int(x.shape[1])
        if projected:
            prepared = _normalise(x, inplace=_is_fresh(x, vectors))
        else:
            prepared = self._prepare(x, fresh=_is_fresh(x, vectors))
        self._build(prepared)
        self.build_seconds = time.perf_counter() - t0
        return self

    def search(self, queries: np.ndarray, k: int = 10, *, rerank: np.ndarray | None = None,
               candidates: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ids (m, k) int64 and cosine scores (m, k) float32, best first.

        With fewer than ``k`` items, the missing columns hold id -1 and score -inf.

        ``rerank`` (n, d) -- the full, L2-normalised vectors row-aligned with the index (e.g.
        ``Catalog.embeddings``): the index fetches ``candidates`` (default
        :func:`default_candidates`) ids and
        re-scores them exactly against these, removing the recall lost to a projection.
        """
        k = _check_k(k)
        if self.dim is None:
            raise ConfigError(f"{type(self).__name__} is empty: call build() first")
        q = _as_matrix(queries, "queries")
        if q.shape[1] != self.dim:
            raise ConfigError(f"queries have dimension {q.shape[1]}, the index holds {self.dim}-d vectors")
        fetch = k
        if rerank is not None:
            if not isinstance(rerank, np.ndarray):      # keep memmaps and float16 as they are
                rerank = np.asarray(rerank, dtype=np.float32)
            if rerank.ndim != 2 or rerank.shape != (len(self), self.dim):
                raise ConfigError(f"rerank vectors must have shape ({len(self)}, {self.dim}), got {rerank.shape}")
            fetch = _check_k(candidates) if candidates is not None else default_candidates(k)
            fetch = max(fetch, k)
        ids, scores = self._search(self._prepare(q, fresh=rerank is None and _is_fresh(q, queries)),
                                   min(fetch, len(self)))
        if rerank is not None:
            ids, scores = _rerank(_normalise(q), ids, rerank, k)   # q was left untouched above
        if ids.shape[1] < k:  # pad to k columns
            pad = k - ids.shape[1]
            ids = np.hstack([ids, np.full((len(ids), pad), -1, np.int64)])
            scores = np.hstack([scores, np.full((len(scores), pad), -np.inf, np.float32)])
        return ids.astype(np.int64, copy=False), scores.astype(np.float32, copy=False)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the index into ``folder`` (created); returns the folder."""
        if self.dim is None:
            raise ConfigError("cannot save an index that was never built")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.projection is not None:
            self.projection.save(folder / "projection.npz")
        self._save(folder)
        meta = {"format": INDEX_FORMAT, "kind": self.kind, "n": len(self), "dim": self.dim,
                "params": self.params(), "build_seconds": round(self.build_seconds, 3)}
        (folder / "index.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, **options) -> VectorIndex:
        """Read an index saved by :meth:`save` (any kind when called on ``VectorIndex``).

        ``options`` override saved runtime settings (``device`` for exact, ``ef_search`` and
        ``threads`` for HNSW).
        """
        folder = Path(folder)
        try:
            meta = json.loads((folder / "index.json").read_text())
        except (OSError, ValueError) as err:
            raise RecsysError(f"no readable index in {folder}: {err}") from None
        if meta.get("format") != INDEX_FORMAT:
            raise RecsysError(f"index in {folder} has format {meta.get('format')}, expected {INDEX_FORMAT}")
        kinds = {c.kind: c for c in (ExactIndex, HNSWIndex)}
        impl = kinds.get(meta.get("kind"))
        if impl is None or (cls is not VectorIndex and impl is not cls):
            raise RecsysError(f"index in {folder} is of kind {meta.get('kind')!r}")
        proj = Projection.load(folder / "projection.npz") if (folder / "projection.npz").is_file() else None
        try:
            obj = impl(projection=proj, **{**meta.get("params", {}), **options})
        except TypeError as err:   # an option this kind does not take (e.g. device for HNSW)
            raise ConfigError(f"bad option for a {impl.kind} index: {err}") from None
        obj.dim = int(meta["dim"])
        obj.build_seconds = float(meta.get("build_seconds", float("nan")))
        obj._load(folder)
        if len(obj) != int(meta["n"]):
            raise RecsysError(f"index in {folder} is inconsistent ({len(obj)} vectors, meta says {meta['n']})")
        return obj

    def params(self) -> dict:
        """Constructor parameters saved with the index."""
        return {}

    @property
    def stored_dim(self) -> int | None:
        """Dimension of the stored vectors (after projection)."""
        if self.dim is None:
            return None
        return self.projection.dim if self.projection is not None else self.dim

    def nbytes(self) -> int:
        """Approximate memory the index holds, in bytes."""
        return 0

    def __repr__(self) -> str:
        proj = f", projection {self.projection.in_dim}->{self.projection.dim}" if self.projection else ""
        return f"{type(self).__name__}(n={len(self) if self.dim else 0}, dim={self.dim}{proj})"

    # -- implementation ------------------------------------------------------------------------
    def _prepare(self, x: np.ndarray, *, fresh: bool) -> np.ndarray:
        if self.projection is not None:
            return self.projection.apply(x)
        return _normalise(x, inplace=fresh)

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def _build(self, x: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abc.abstractmethod
    def _save(self, folder: Path) -> None: ...

    @abc.abstractmethod
    def _load(self, folder: Path) -> None: ...


class ExactIndex(VectorIndex):
    """Brute-force top-k.

    Parameters
    ----------
    device : str
        ``"cpu"`` (numpy) or a torch device such as ``"cuda"``: the vectors are copied to the
        device once and queries travel there in batches (``recsys.device.get_device`` checks
        that CUDA exists and raises ConfigError otherwise).
    backend : {"auto", "numpy", "torch"}
        ``auto``: torch on a CUDA device, numpy otherwise. ``torch`` on CPU exists mainly so
        the torch path is testable without a GPU.
    max_block_cells : int
        Bound on the (queries x items) score block computed at once (floats; 32M = 128 MB).
    """

    kind = "exact"

    def __init__(self, *, device: str = "cpu", backend: str = "auto", max_block_cells: int = 32_000_000,
                 projection: Projection | None = None):
        super().__init__(projection=projection)
        if backend not in ("auto", "numpy", "torch"):
            raise ConfigError(f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
        if max_block_cells < 1:
            raise ConfigError(f"max_block_cells must be >= 1, got {max_block_cells}")
        self.device = str(device or "cpu")
        if self.device != "cpu":
            from recsys.device import get_device

            self.device = get_device(self.device)   # raises ConfigError without CUDA
        self.backend = backend if backend != "auto" else ("numpy" if self.device == "cpu" else "torch")
        self.max_block_cells = int(max_block_cells)
        self._x: np.ndarray | None = None        # (n, d') normalised, numpy (kept for save)
        self._xt = None                           # torch tensor on self.device (torch backend)

    def params(self) -> dict:
        return {"max_block_cells": self.max_block_cells}

    def __len__(self) -> int:
        return 0 if self._x is None else int(self._x.shape[0])

    def nbytes(self) -> int:
        return 0 if self._x is None else int(self._x.nbytes)

    @property
    def vectors(self) -> np.ndarray:
        """The stored (n, d') normalised vectors (read-only view)."""
        v = self._x.view()
        v.flags.writeable = False
        return v

    def _build(self, x: np.ndarray) -> None:
        self._x = x
        self._to_device()

    def _to_device(self) -> None:
        self._xt = None
        if self.backend == "torch":
            import torch

            self._xt = torch.from_numpy(self._x).to(self.device)

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        step = max(1, self.max_block_cells // n)
        if self.backend == "torch":
            return self._search_torch(q, k, step)
        ids = np.empty((len(q), k), np.int64)
        scores = np.empty((len(q), k), np.float32)
        for s in range(0, len(q), step):
            block = q[s:s + step] @ self._x.T                     # (b, n)
            if k < n:
                part = np.argpartition(-block, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(n), block.shape).copy()
            vals = np.take_along_axis(block, part, axis=1)
            order = np.argsort(-vals, axis=1, kind="stable")
            ids[s:s + step] = np.take_along_axis(part, order, axis=1)
            scores[s:s + step] = np.take_along_axis(vals, order, axis=1)
        return ids, scores

    def _search_torch(self, q: np.ndarray, k: int, step: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        ids, scores = [], []
        with torch.inference_mode():
            qt = torch.from_numpy(q).to(self.device)               # one transfer for all queries
            for s in range(0, len(q), step):
                vals, idx = torch.topk(qt[s:s + step] @ self._xt.T, k, dim=1)   # sorted, best first
                ids.append(idx)
                scores.append(vals)
            return torch.cat(ids).cpu().numpy(), torch.cat(scores).cpu().numpy()

    def _save(self, folder: Path) -> None:
        np.savez(folder / "vectors.npz", vectors=self._x)

    def _load(self, folder: Path) -> None:
        with np.load(folder / "vectors.npz", allow_pickle=False) as z:
            self._x = np.ascontiguousarray(z["vectors"], dtype=np.float32)
        self._to_device()


class HNSWIndex(VectorIndex):
    """FAISS ``IndexHNSWFlat`` over normalised vectors with ``METRIC_INNER_PRODUCT``.

    Parameters
    ----------
    m : int
        Graph degree (FAISS ``M``; layer 0 has 2M links). Memory is about
        ``n * (4 d' + 8 M)`` bytes.
    ef_construction : int
        Candidate list while inserting; higher builds slower and a better graph.
    ef_search : int
        Candidate list while searching (raised to ``k`` when smaller); the recall/latency knob.
    threads : int or None
        OpenMP threads for FAISS (build and batched search); None: the CPUs this process may use.
        FAISS's thread count is process-wide, so it is set before each build/search call.

    The defaults (M=32, efConstruction=100, efSearch=96) trade build time for recall close to
    exact search in the same space (``benchmarks/README.md`` has the figures and the efSearch
    sweep).
    """

    kind = "hnsw"

    def __init__(self, *, m: int = 32, ef_construction: int = 100, ef_search: int = 96,
                 threads: int | None = None, projection: Projection | None = None):
        super().__init__(projection=projection)
        for name, v in (("m", m), ("ef_construction", ef_construction), ("ef_search", ef_search)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"HNSW {name} must be an integer >= 1, got {v!r}")
        if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 1):
            raise ConfigError(f"threads must be None or an integer >= 1, got {threads!r}")
        self.m, self.ef_construction, self.ef_search = int(m), int(ef_construction), int(ef_search)
        self.threads = threads
        self._index = None

    def params(self) -> dict:
        return {"m": self.m, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def nbytes(self) -> int:
        if self._index is None:
            return 0
        n, d = len(self), self.stored_dim
        return int(n * (4 * d + 4 * 2 * self.m * 1.1))   # vectors + links (upper layers ~ +10 %)

    @contextlib.contextmanager
    def _omp_threads(self, n_queries: int | None = None):
        """FAISS under an OpenMP thread count: ``threads`` for builds and batches, 1 for a
        handful of queries (an OpenMP team for one query only adds wake-up latency). The count
        is restored after:
        with torch imported first, ``faiss.omp_set_num_threads`` resolves to torch's OpenMP
        runtime (``libgomp.so.1``; threadpoolctl shows the libgomp bundled with faiss-cpu
        unchanged and ``torch.get_num_threads()`` 1 after the call), so a count of 1 left in
        place made every later torch call single-threaded (benchmarks/README.md has what that
        cost the matcher)."""
        import faiss

        threads = int(self.threads or default_threads())
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1 if n_queries is not None and n_queries < 2 * threads else threads)
        try:
            yield faiss
        finally:
            faiss.omp_set_num_threads(before)

    def _build(self, x: np.ndarray) -> None:
        with self._omp_threads() as faiss:
            index = faiss.IndexHNSWFlat(x.shape[1], self.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.add(x)
        self._index = index

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        with self._omp_threads(len(q)) as faiss:
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.ef_search, k)
            scores, ids = self._index.search(q, k, params=params)
        return ids, scores

    def _save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / "hnsw.faiss"))

    def _load(self, folder: Path) -> None:
        import faiss

        self._index = faiss.read_index(str(folder / "hnsw.faiss"))
        if self._index.d != self.stored_dim:
            raise RecsysError(f"index in {folder} holds {self._index.d}-d vectors, expected {self.stored_dim}")


def make_index(vectors: np.ndarray, *, kind: str = "auto", threshold: int = DEFAULT_THRESHOLD,
               projection_dim: int | None = DEFAULT_PROJECTION_DIM, device: str = "cpu",
               **hnsw_params) -> VectorIndex:
    """Build the index a catalog of ``vectors`` (n, D) should use.

    ``kind="auto"``: :class:`ExactIndex` on the full vectors when ``n < threshold``, else
    :class:`HNSWIndex` on a ``projection_dim`` PCA projection (skipped when ``projection_dim``
    is None or not below D). ``kind="exact"`` / ``"hnsw"`` force one; ``hnsw_params`` go to
    :class:`HNSWIndex` (``m``, ``ef_construction``, ``ef_search``, ``threads``).
    """
    x = _as_matrix(vectors)
    if kind not in ("auto", "exact", "hnsw"):
        raise ConfigError(f"index kind must be 'auto', 'exact' or 'hnsw', got {kind!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)) or threshold < 1:
        raise ConfigError(f"threshold must be an integer >= 1, got {threshold!r}")
    if kind == "auto":
        kind = "hnsw" if len(x) >= threshold else "exact"
    if kind == "exact":
        if hnsw_params:
            raise ConfigError(f"HNSW parameters given for an exact index: {sorted(hnsw_params)}")
        return ExactIndex(device=device).build(x)
    proj = None
    if projection_dim is not None and projection_dim < x.shape[1]:
        proj = fit_projection(x, projection_dim)
    return HNSWIndex(projection=proj, **hnsw_params).build(x)


# --- persistence inside a catalog folder -----------------------------------------------------

def _catalog_stamp(catalog_folder: Path) -> str | None:
    """What identifies a catalog build: its meta.json ``built_at`` (None when absent)."""
    try:
        return json.loads((catalog_folder / "meta.json").read_text()).get("built_at")
    except (OSError, ValueError):
        return None


def save_index(catalog_folder: str | os.PathLike, index: VectorIndex) -> Path:
    """Write ``index`` to ``<catalog_folder>/index/``, replacing any previous one atomically
    (written beside it, then renamed). The catalog's ``built_at`` is recorded, so
    :func:`load_index` can refuse an index left from an earlier build. Call it after
    ``Catalog.save``."""
    catalog_folder = Path(catalog_folder)
    if not catalog_folder.is_dir():
        raise RecsysError(f"catalog folder {catalog_folder} does not exist")
    final = catalog_folder / "index"
    tmp = catalog_folder / f"index.tmp-{os.getpid()}"
    old = catalog_folder / f"index.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    index.save(tmp)
    meta = json.loads((tmp / "index.json").read_text())
    meta["catalog_built_at"] = _catalog_stamp(catalog_folder)
    (tmp / "index.json").write_text(json.dumps(meta, indent=1))
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_index(catalog_folder: str | os.PathLike, *, n_items: int | None = None, **options) -> VectorIndex | None:
    """The index saved in ``<catalog_folder>/index/``, or None when there is none or it is stale
    (built for another catalog build, or holding a number of vectors other than ``n_items``).
    A present but unreadable index raises :class:`~recsys.errors.RecsysError`. ``options`` as
    in :meth:`VectorIndex.load` (e.g. ``device="cuda"``)."""
    folder = Path(catalog_folder) / "index"
    if not (folder / "index.json").is_file():
        return None
    try:
        meta = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError) as err:
        raise RecsysError(f"unreadable index in {folder}: {err}") from None
    stamp = _catalog_stamp(Path(catalog_folder))
    if meta.get("catalog_built_at") != stamp or (n_items is not None and meta.get("n") != n_items):
        return None
    return VectorIndex.load(folder, **options)
