"""``python -m recsys bench``: the command, the run over the sections, and the entry of the bench's
child processes (``python -m benchmarks.bench _cold_analysis|_cold_umap``)."""
from __future__ import annotations

import gc
import json
import os
import subprocess
import time
from dataclasses import asdict

from benchmarks.bench.analysis import bench_analysis, cold_analysis
from benchmarks.bench.build import bench_build
from benchmarks.bench.harness import (
    SECTIONS,
    BenchConfig,
    _log,
    check_device,
    system_info,
    thread_limits,
)
from benchmarks.bench.matcher import bench_matcher
from benchmarks.bench.report import _json_default, format_table, write_reports
from benchmarks.bench.rerank import bench_rerank
from benchmarks.bench.search import bench_search
from benchmarks.bench.umap import bench_umap, cold_umap
from recsys.errors import ConfigError, RecsysError
from recsys.paths import REPO_ROOT


def run_bench(cfg: BenchConfig) -> dict:
    """Run the configured sections; a failing section is recorded (``error``) and the rest go on."""
    cfg.device = check_device(cfg.device)
    bad = [s for s in cfg.only if s not in SECTIONS]
    if bad:
        raise ConfigError(f"unknown bench section(s) {bad}; choose from {', '.join(SECTIONS)}")
    t_start = time.perf_counter()
    results = {"system": system_info(cfg.device), "config": _config_dict(cfg), "sections": {},
               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    analyzer = None
    if {"analysis", "build"} & set(cfg.only):
        from recsys.analysis.analyzer import AnalysisConfig, Analyzer

        analyzer = Analyzer(AnalysisConfig(transcribe="never", device=cfg.device))
    runners = {
        "analysis": lambda: bench_analysis(cfg, analyzer),
        "build": lambda: bench_build(cfg, analyzer),
        "search": lambda: bench_search(cfg, hnsw_params={"threads": cfg.threads} if cfg.threads else None),
        "matcher": lambda: bench_matcher(cfg),
        "rerank": lambda: bench_rerank(cfg),
        "umap": lambda: bench_umap(cfg),
    }
    for name in SECTIONS:
        if name not in cfg.only:
            continue
        t0 = time.perf_counter()
        try:
            with thread_limits(cfg.threads):
                out = runners[name]()
        except (RecsysError, OSError, ImportError, RuntimeError, subprocess.SubprocessError, ValueError) as err:
            _log(f"{name}: FAILED: {type(err).__name__}: {' '.join(str(err).split())}")
            out = {"rows": [], "error": f"{type(err).__name__}: {' '.join(str(err).split())}"}
        out["seconds"] = round(time.perf_counter() - t0, 1)
        results["sections"][name] = out
        gc.collect()
    if hasattr(os, "getloadavg"):
        results["system"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.perf_counter() - t_start, 1)
    results["targets"] = [r for s in results["sections"].values() for r in s.get("rows", []) if r["target"]]
    return results



def _config_dict(cfg: BenchConfig) -> dict:
    d = asdict(cfg)
    d["search_sizes"] = list(cfg.search_sizes)
    d["n_repeats"] = cfg.n_repeats
    return d



def parse_size(text: str) -> int:
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        n = int(float(t[:-1] if mult > 1 else t) * mult)
    except ValueError:
        raise ConfigError(f"bad size {text!r}: use e.g. 10000, 10k or 1M") from None
    if n < 100:
        raise ConfigError(f"size {text!r} is too small (at least 100 items)")
    return n


def cmd_bench(args) -> int:
    sizes = None
    if args.sizes:
        sizes = tuple(sorted({parse_size(s) for part in args.sizes for s in part.split(",") if s.strip()}))
    only = tuple(s for part in (args.only or []) for s in part.split(",") if s.strip()) or SECTIONS
    if args.repeats is not None and args.repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    cfg = BenchConfig(quick=args.quick, device=args.device, sizes=sizes, only=only, repeats=args.repeats,
                      video=args.video, threads=args.threads)
    results = run_bench(cfg)
    if args.out:
        j, m = write_reports(results, args.out)
        _log(f"wrote {j} and {m}")
    if args.json:
        print(json.dumps(results, default=_json_default), flush=True)
    else:
        print(format_table(results), flush=True)
    return 2 if any(s.get("error") for s in results["sections"].values()) else 0


def register_bench(sub) -> None:
    p = sub.add_parser("bench", help="speed benchmarks: analysis, build, search, matcher, re-ranking, UMAP")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (no 1M search)")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--device", default="cpu", help="cpu | cuda (fails at once when CUDA is absent)")
    p.add_argument("--sizes", nargs="+", metavar="N", help="search catalog sizes, e.g. 10k 100k 1M")
    p.add_argument("--only", nargs="+", metavar="SECTION", help=f"sections to run: {', '.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, help="timed runs per figure (default 3 quick, 7 full)")
    p.add_argument("--threads", type=int, help="torch/BLAS/FAISS threads (default: every usable CPU; "
                   "1 gives steadier figures on a busy machine)")
    p.add_argument("--video", choices=("auto", "generated"), default="auto",
                   help="auto: the shared Big Buck Bunny 30 s clip when present; generated: H.264 clip made here")
    p.add_argument("--out", default=str(REPO_ROOT / "reports"),
                   help="folder for bench.json and bench.md (default: reports/; '' to skip)")
    p.set_defaults(func=cmd_bench)


def _child_main(argv: list[str]) -> int:
    """Entry for the fresh processes the bench starts (cold measurements). Prints one JSON line."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("_cold_analysis")
    a.add_argument("path")
    a.add_argument("--device", default="cpu")
    a.add_argument("--transcribe", default="never")
    u = sub.add_parser("_cold_umap")
    u.add_argument("--n", type=int, default=100)
    args = parser.parse_args(argv)
    if args.what == "_cold_analysis":
        out = cold_analysis(args.path, args.device, args.transcribe)
    else:
        out = cold_umap(args.n)
    print(json.dumps(out, default=_json_default), flush=True)
    return 0
