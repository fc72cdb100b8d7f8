"""Section ``search``: top-10 latency and recall@10 over clustered vectors, exact and HNSW."""
from __future__ import annotations

import gc
import os
import time

import numpy as np

from benchmarks.bench.harness import (
    BenchConfig,
    PeakMemory,
    _log,
    _mem_available,
    _r,
    _size_label,
    make_row,
    time_calls,
    time_each,
)
from benchmarks.bench.synthetic import ClusteredVectors
from recsys.paths import cache_dir


def _merge_topk(best_s, best_i, scores, offset, k):
    """Running top-k: merge a (m, c) score block (ids offset..) into (m, k) best."""
    cat_s = np.hstack([best_s, scores])
    cat_i = np.hstack([best_i, np.arange(offset, offset + scores.shape[1])[None, :].repeat(len(scores), 0)])
    part = np.argpartition(-cat_s, k - 1, axis=1)[:, :k]
    return np.take_along_axis(cat_s, part, 1), np.take_along_axis(cat_i, part, 1)


# Candidates the HNSW stage hands to the exact re-rank: the library's default for a top-10
# (recsys.catalog.index.default_candidates). 40 measured recall@10 0.942 at 1M (below the 0.95 target);
# the re-rank sweep in bench.md shows what more candidates buy.
RERANK_CANDIDATES = 100


def bench_search(cfg: BenchConfig, sizes: tuple[int, ...] | None = None, *, ef_sweep=(16, 32, 64, 96, 128, 256),
                 rerank_sweep=(40, 100, 200), hnsw_params: dict | None = None) -> dict:
    from recsys.catalog.index import ExactIndex, HNSWIndex, fit_projection, neighbour_recall

    sizes = tuple(sizes or cfg.search_sizes)
    gen = ClusteredVectors(seed=cfg.seed)
    m_q = cfg.queries or (100 if cfg.quick else 200)
    queries = gen.sample(m_q, np.random.default_rng(cfg.seed + 10_001))
    qn = queries  # rows already L2-normalised
    n_b1 = min(m_q, 50)
    rows, details = [], {"queries": m_q, "generator": "ClusteredVectors defaults", "sizes": {}}
    k = 10
    for n in sizes:
        label = _size_label(n)
        d: dict = {}
        _log(f"search/{label}: generating {n} x {gen.dim} clustered vectors")
        keep_full = n <= cfg.full_max
        t_gen = time.perf_counter()
        full = np.empty((n, gen.dim), np.float32) if keep_full else None
        memmap_path = None
        if not keep_full:
            memmap_path = cache_dir() / "bench" / f"full_{n}_{os.getpid()}.f16"
            memmap_path.parent.mkdir(parents=True, exist_ok=True)
            full = np.lib.format.open_memmap(memmap_path, mode="w+", dtype=np.float16, shape=(n, gen.dim))
        proj, projected = None, None
        gt_s = np.full((m_q, k), -np.inf, np.float32)
        gt_i = np.full((m_q, k), -1, np.int64)
        pending = []
        for start, chunk in gen.stream(n, seed=cfg.seed + 1):
            full[start:start + len(chunk)] = chunk
            if not keep_full:
                gt_s, gt_i = _merge_topk(gt_s, gt_i, qn @ chunk.T, start, k)
            if proj is None:
                pending.append((start, chunk))
                if start + len(chunk) >= min(n, 10_000):
                    t0 = time.perf_counter()
                    proj = fit_projection(np.concatenate([c for _, c in pending]), 256)
                    d["projection_fit_s"] = _r(time.perf_counter() - t0)
                    d["projection_energy"] = _r(proj.energy, 4)
                    projected = np.empty((n, proj.dim), np.float32)
                    for s, c in pending:
                        projected[s:s + len(c)] = proj.apply(c)
                    pending = []
            else:
                projected[start:start + len(chunk)] = proj.apply(chunk)
        d["generate_s"] = _r(time.perf_counter() - t_gen)
        if not keep_full and _mem_available() > 2 * full.nbytes:
            # How a served catalog would hold them: float16 in RAM (6.3 GB at 1M x 3127), so the
            # re-rank reads memory, not random disk pages (measured 8.1 ms/query from the memmap).
            _log(f"search/{label}: loading the float16 vectors into RAM ({full.nbytes / 2**30:.1f} GB)")
            ram = np.empty(full.shape, np.float16)
            for s0 in range(0, n, 65_536):
                ram[s0:s0 + 65_536] = full[s0:s0 + 65_536]
            full = ram
        exact_full = None
        if keep_full:
            _log(f"search/{label}: exact on the full {gen.dim}-d vectors")
            with PeakMemory(cfg.device) as mem:
                exact_full = ExactIndex(device=cfg.device).build(full)
            del full
            full = exact_full.vectors
            gt_i, _ = exact_full.search(qn, k)
            b1 = time_each(lambda q: exact_full.search(q, k), qn[:n_b1])
            batch = time_calls(lambda: exact_full.search(qn, k), warmup=1, repeats=max(2, cfg.n_repeats // 2))
            rows.append(make_row(f"search.{label}.exact_full.latency_b1",
                                 f"top-10 {label}: exact {gen.dim}-d, 1 query/call", b1["median_ms"], "ms",
                                 stats=b1, memory={**mem.to_dict(), "index_mb": _r(exact_full.nbytes() / 2**20)},
                                 note=f"batched {batch['median_ms'] / m_q:.3f} ms/query; build "
                                      f"{exact_full.build_seconds:.2f} s; recall 1 (reference)"))
            d["exact_full"] = {"b1": b1, "batch_per_query_ms": batch["median_ms"] / m_q, "batch": batch,
                               "build_s": exact_full.build_seconds, "index_mb": exact_full.nbytes() / 2**20}
        else:
            d["ground_truth"] = f"exact top-{k} over the full {gen.dim}-d vectors, streamed while generating"

        _log(f"search/{label}: exact on the 256-d projection")
        with PeakMemory(cfg.device) as mem:
            exact_p = ExactIndex(device=cfg.device, projection=proj).build(projected, projected=True)
        ids_p, _ = exact_p.search(queries, k)
        rec_p = neighbour_recall(ids_p, gt_i)
        b1 = time_each(lambda q: exact_p.search(q, k), queries[:n_b1])
        batch = time_calls(lambda: exact_p.search(queries, k), warmup=1, repeats=max(2, cfg.n_repeats // 2))
        rows.append(make_row(f"search.{label}.exact256.latency_b1", f"top-10 {label}: exact 256-d, 1 query/call",
                             b1["median_ms"], "ms", stats=b1,
                             memory={**mem.to_dict(), "index_mb": _r(exact_p.nbytes() / 2**20)},
                             note=f"recall@10 vs full {rec_p:.3f}; batched {batch['median_ms'] / m_q:.3f} ms/query"))
        d["exact256"] = {"b1": b1, "batch_per_query_ms": batch["median_ms"] / m_q, "recall_vs_full": rec_p,
                         "build_s": exact_p.build_seconds, "index_mb": exact_p.nbytes() / 2**20}
        del exact_p
        gc.collect()

        _log(f"search/{label}: HNSW build")
        with PeakMemory("cpu") as mem:
            hnsw = HNSWIndex(projection=proj, **(hnsw_params or {})).build(projected, projected=True)
        del projected
        gc.collect()
        ids_h, _ = hnsw.search(queries, k)
        rec_h_p, rec_h = neighbour_recall(ids_h, ids_p), neighbour_recall(ids_h, gt_i)
        b1 = time_each(lambda q: hnsw.search(q, k), queries[:n_b1])
        batch = time_calls(lambda: hnsw.search(queries, k), warmup=1, repeats=max(2, cfg.n_repeats // 2))
        pre = f"search.{label}.hnsw"
        hmem = {**mem.to_dict(), "index_mb": _r(hnsw.nbytes() / 2**20)}
        rows.append(make_row(f"{pre}.latency_b1", f"top-10 {label}: HNSW 256-d (M={hnsw.m}, efSearch="
                             f"{hnsw.ef_search}), 1 query/call", b1["median_ms"], "ms", stats=b1, memory=hmem,
                             note=f"build {hnsw.build_seconds:.1f} s; batched {batch['median_ms'] / m_q:.3f} ms/query"))
        rows.append(make_row(f"{pre}.recall", f"recall@10 {label}: HNSW vs exact 256-d", rec_h_p, ""))
        rows.append(make_row(f"{pre}.recall_full", f"recall@10 {label}: HNSW vs exact {gen.dim}-d", rec_h, ""))
        d["hnsw"] = {"params": hnsw.params(), "build_s": hnsw.build_seconds, "b1": b1,
                     "batch_per_query_ms": batch["median_ms"] / m_q, "recall_vs_exact256": rec_h_p,
                     "recall_vs_full": rec_h, "memory": hmem}
        rer = full
        cands = RERANK_CANDIDATES
        ids_r, _ = hnsw.search(queries, k, rerank=rer, candidates=cands)
        rec_r = neighbour_recall(ids_r, gt_i)
        b1r = time_each(lambda q: hnsw.search(q, k, rerank=rer, candidates=cands), queries[:n_b1])
        where = "RAM float32" if keep_full else ("disk memmap float16" if isinstance(full, np.memmap)
                                                  else "RAM float16")
        rows.append(make_row(f"search.{label}.pipeline.latency_b1",
                             f"top-10 {label}: HNSW 256-d + exact re-rank of {cands} in {gen.dim}-d, 1 query/call",
                             b1r["median_ms"], "ms", stats=b1r, note=f"full vectors in {where}"))
        rows.append(make_row(f"search.{label}.pipeline.recall", f"recall@10 {label}: HNSW + re-rank vs exact "
                             f"{gen.dim}-d", rec_r, ""))
        d["hnsw_rerank"] = {"candidates": cands, "b1": b1r, "recall_vs_full": rec_r, "full_vectors": where}
        d["rerank_sweep"] = []
        for c in rerank_sweep:
            ids_c, _ = hnsw.search(queries, k, rerank=rer, candidates=c)
            lat = time_each(lambda q: hnsw.search(q, k, rerank=rer, candidates=c), queries[:min(n_b1, 30)], warmup=2)
            d["rerank_sweep"].append({"candidates": c, "recall_vs_full": neighbour_recall(ids_c, gt_i),
                                      "b1_median_ms": lat["median_ms"], "b1_cpu_ms": lat.get("cpu_median_ms")})
        sweep = []
        for ef in ef_sweep:
            hnsw.ef_search = ef
            ids_e, _ = hnsw.search(queries, k)
            lat = time_each(lambda q: hnsw.search(q, k), queries[:min(n_b1, 30)], warmup=2)
            sweep.append({"ef_search": ef, "recall_vs_exact256": neighbour_recall(ids_e, ids_p),
                          "recall_vs_full": neighbour_recall(ids_e, gt_i), "b1_median_ms": lat["median_ms"],
                          "b1_cpu_ms": lat.get("cpu_median_ms")})
        d["ef_sweep"] = sweep
        details["sizes"][label] = d
        del hnsw, exact_full, full, rer
        if memmap_path is not None:
            memmap_path.unlink(missing_ok=True)
        gc.collect()
    if 1_000_000 not in sizes:
        for key, fig in (("latency_b1", "top-10 1M: HNSW 256-d + re-rank, 1 query/call"),
                         ("recall", "recall@10 1M: HNSW + re-rank")):
            rows.append(make_row(f"search.1M.pipeline.{key}", fig, None, "ms" if key == "latency_b1" else "",
                                 note="not run (1M runs without --quick, or with --sizes 1M)"))
    return {"rows": rows, "details": details}
