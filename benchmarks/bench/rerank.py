"""Section ``rerank``: ``ranker.rank`` after a weight change over prebuilt ComponentScores."""
from __future__ import annotations

import time

import numpy as np

from benchmarks.bench.harness import (
    BenchConfig,
    PeakMemory,
    _size_label,
    make_row,
    time_calls,
)


def bench_rerank(cfg: BenchConfig, sizes: tuple[int, ...] = (10_000, 100_000), *, mmr_sizes=None) -> dict:
    from recsys.serving.ranker import COMPONENTS, PRESETS, ComponentScores, rank

    rng = np.random.default_rng(cfg.seed)
    mmr_sizes = mmr_sizes if mmr_sizes is not None else ((10_000,) if cfg.quick else sizes)
    rows, details = [], {}
    for n in sizes:
        label = _size_label(n)
        raw = {c: rng.random(n, dtype=np.float32) for c in COMPONENTS}
        cand = np.ones(n, bool)
        cand[rng.choice(n, 20, replace=False)] = False
        t0 = time.perf_counter()
        cs = ComponentScores.build(raw, cand)
        build_ms = (time.perf_counter() - t0) * 1000
        weights = [dict(PRESETS["balanced"]), dict(PRESETS["content only"])]
        state = {"i": 0}

        def flip():
            state["i"] ^= 1
            return rank(cs, weights[state["i"]], k=10)

        with PeakMemory(cfg.device) as mem:
            st = time_calls(flip, warmup=2, repeats=max(cfg.n_repeats, 5))
        key = "rerank.100k" if n == 100_000 else f"rerank.{label}"
        rows.append(make_row(key, f"re-rank {label} items after a weight change (k=10)", st["median_ms"], "ms",
                             stats=st, memory=mem.to_dict(),
                             note=f"ComponentScores.build (new query) {build_ms:.1f} ms"))
        details[label] = {"rank": st, "component_build_ms": build_ms}
        if n in mmr_sizes:
            from recsys.analysis.item_vector import vector_dim

            emb = rng.random((n, vector_dim()), dtype=np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
            w = dict(PRESETS["discovery"])
            st2 = time_calls(lambda: rank(cs, w, k=10, embeddings=emb), warmup=1, repeats=max(cfg.n_repeats, 5))
            rows.append(make_row(f"rerank.{label}.mmr", f"re-rank {label} with diversity 0.5 (MMR, pool 200)",
                                 st2["median_ms"], "ms", stats=st2))
            details[label]["mmr"] = st2
            del emb
    return {"rows": rows, "details": details}
