"""Section ``umap``: UMAP fit and transform per catalog size; numba's cold compile apart."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

from benchmarks.bench.harness import (
    BenchConfig,
    PeakMemory,
    _child_env,
    _log,
    _run_child,
    make_row,
    time_calls,
)
from benchmarks.bench.synthetic import clustered_vectors


def cold_umap(n: int, seed: int = 0) -> dict:
    """In a fresh process (the child): import umap, first fit, first transform, then again."""
    X = clustered_vectors(n, seed=seed)
    t0 = time.perf_counter()
    import umap  # noqa: F401

    t_import = time.perf_counter() - t0
    from recsys.serving.embedding_map import fit_umap

    t0 = time.perf_counter()
    m = fit_umap(X)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    m.transform(X[:1])
    t_tr = time.perf_counter() - t0
    t0 = time.perf_counter()
    m2 = fit_umap(X, seed=seed + 1)
    t_fit2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    m2.transform(X[:1])
    t_tr2 = time.perf_counter() - t0
    return {"n": n, "import_s": t_import, "first_fit_s": t_fit, "first_transform_s": t_tr,
            "second_fit_s": t_fit2, "second_transform_s": t_tr2, "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR")}


def bench_umap(cfg: BenchConfig, sizes: tuple[int, ...] | None = None, *, cold: bool = True) -> dict:
    from recsys.serving.embedding_map import fit_umap

    sizes = tuple(sizes or ((100, 1000) if cfg.quick else (100, 1000, 5000)))
    rows, details = [], {}
    if cold:
        runs = []
        if not cfg.quick:
            tmp = tempfile.mkdtemp(prefix="recsys-bench-numba-")
            try:
                _log("umap: cold process, empty numba cache (compiles everything)")
                runs.append(("empty numba cache", _run_child(["_cold_umap", "--n", "100"],
                                                              env=_child_env(NUMBA_CACHE_DIR=tmp))))
                _log("umap: cold process, numba cache filled by the previous run")
                runs.append(("numba disk cache warm", _run_child(["_cold_umap", "--n", "100"],
                                                                  env=_child_env(NUMBA_CACHE_DIR=tmp))))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        else:
            _log("umap: cold process with the project's numba cache as found")
            runs.append(("project numba cache as found", _run_child(["_cold_umap", "--n", "100"])))
        for what, res in runs:
            cold_s = res["import_s"] + res["first_fit_s"] + res["first_transform_s"]
            rows.append(make_row(f"umap.cold.{what.split()[0]}", f"UMAP cold process ({what}): import + 1st fit + "
                                 f"1st transform, 100 items", cold_s * 1000, "ms",
                                 note=f"import {res['import_s']:.1f} s, fit {res['first_fit_s']:.1f} s, transform "
                                      f"{res['first_transform_s']:.2f} s; 2nd fit {res['second_fit_s']:.2f} s"))
            details[f"cold ({what})"] = res
    X_all = clustered_vectors(max(sizes), seed=cfg.seed)
    _log("umap: warm-up fit in this process")
    fit_umap(X_all[:100]).transform(X_all[:1])
    for n in sizes:
        X = X_all[:n]
        _log(f"umap/{n}: fit")
        reps = 1 if n >= 5000 or (cfg.quick and n >= 1000) else max(2, cfg.n_repeats // 2)
        fits: list = []
        with PeakMemory("cpu") as mem:
            st = time_calls(lambda: fits.append(fit_umap(X, seed=cfg.seed)), warmup=0, repeats=reps)
        model = fits[-1]
        q = X_all[:1] + 0.01
        tr = time_calls(lambda: model.transform(q), warmup=1, repeats=cfg.n_repeats)
        rows.append(make_row(f"umap.{n}.fit", f"UMAP fit {n} items (warm process)", st["median_ms"], "ms", stats=st,
                             memory=mem.to_dict(), note=f"transform 1 query {tr['median_ms']:.0f} ms"))
        details[str(n)] = {"fit": st, "transform_1": tr, "method": model.method}
    return {"rows": rows, "details": details}
