"""Section ``build``: catalog build throughput over generated clips, with an empty cache."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks.bench.harness import BenchConfig, PeakMemory, _log, make_row, summarize
from benchmarks.bench.synthetic import build_clips
from recsys.errors import RecsysError


@contextmanager
def _temporary_cache_dir():
    old = os.environ.get("RECSYS_CACHE_DIR")
    tmp = tempfile.mkdtemp(prefix="recsys-bench-cache-")
    os.environ["RECSYS_CACHE_DIR"] = tmp
    try:
        yield Path(tmp)
    finally:
        if old is None:
            os.environ.pop("RECSYS_CACHE_DIR", None)
        else:
            os.environ["RECSYS_CACHE_DIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)



def bench_build(cfg: BenchConfig, analyzer=None) -> dict:
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer
    from recsys.catalog.catalog import build_catalog

    n_clips, seconds = (4, 15.0) if cfg.quick else (12, 30.0)
    folder = build_clips(n_clips, seconds, cfg.seed)
    analyzer = analyzer or Analyzer(AnalysisConfig(transcribe="never", device=cfg.device))
    # Steady state: models loaded and first-call JIT (librosa's numba kernels) paid on a clip
    # outside the folder; both are measured in the analysis section's cold rows.
    warm = build_clips(1, 5.0, seed=cfg.seed + 99) / "track_00.m4a"
    analyzer.analyze(warm)
    walls, cpus, stage_sums, rebuild = [], [], {}, []
    media_s = 0.0
    runs = 1 if cfg.quick else 2
    for r in range(runs):
        with _temporary_cache_dir() as tmp:
            _log(f"build: {n_clips} x {seconds:g} s clips, empty cache {tmp} (run {r + 1}/{runs})")
            with PeakMemory(cfg.device) as mem:
                c0, t0 = time.process_time(), time.perf_counter()
                cat = build_catalog(folder, analyzer=analyzer)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            if cat.meta["analysed"] != n_clips:
                raise RecsysError(f"bench build reused {cat.meta['reused']} cached clips from a fresh cache")
            media_s = float(cat.items["duration_s"].sum())
            for a in cat.items["analysis"]:
                for stage, ms in json.loads(a)["timings_ms"].items():
                    stage_sums[stage] = stage_sums.get(stage, 0.0) + ms
            t0 = time.perf_counter()
            build_catalog(folder, analyzer=analyzer)   # second build: every clip from the cache
            rebuild.append(time.perf_counter() - t0)
    stats = summarize(walls, cpus)
    throughput = media_s / (stats["median_ms"] / 1000)
    breakdown = {s: round(v / runs / n_clips, 1) for s, v in stage_sums.items()}
    rows = [make_row("build.throughput", f"build: {n_clips} audio clips x {seconds:g} s, fresh cache, models loaded",
                     throughput, "x", stats=stats, memory=mem.to_dict(),
                     cpu_value=media_s / (stats["cpu_median_ms"] / 1000),
                     note="per clip ms: " + ", ".join(f"{s} {v:.0f}" for s, v in breakdown.items() if s != "total")),
            make_row("build.rebuild_throughput", "rebuild: same folder, every clip cached",
                     media_s / float(np.median(rebuild)), "x", stats=summarize(rebuild))]
    return {"rows": rows, "details": {"n_clips": n_clips, "clip_seconds": seconds, "media_seconds": media_s,
                                      "wall": stats, "per_clip_stage_ms": breakdown}}
