"""The harness: what to run (:class:`BenchConfig`, targets), timing, peak memory, rows,
child processes and thread limits. Every section measures through these."""
from __future__ import annotations

import cProfile
import gc
import json
import os
import platform
import pstats
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from recsys.errors import ConfigError, RecsysError
from recsys.paths import REPO_ROOT

_BENCH_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # its frames are left out of profiles
SECTIONS = ("analysis", "build", "search", "matcher", "rerank", "umap")

# key -> (comparison, threshold, unit, text). Rows whose key is here get a pass/miss.
TARGETS: dict[str, tuple[str, float, str, str]] = {
    "analysis.audio.warm_total": ("<=", 1000.0, "ms", "30 s audio <= 1.0 s"),
    "analysis.video.warm_total": ("<=", 3000.0, "ms", "30 s 720p video <= 3.0 s"),
    "build.throughput": (">=", 20.0, "x", "build >= 20x real time (audio)"),
    # judged on the recommended pipeline: HNSW on the 256-d projection, candidates re-scored in
    # the full 3127-d space, recall against exact top-10 in 3127-d
    "search.1M.pipeline.latency_b1": ("<=", 5.0, "ms", "top-10 over 1M <= 5 ms/query"),
    "search.1M.pipeline.recall": (">=", 0.95, "", "... at recall@10 >= 0.95"),
    "matcher.items_per_s": (">=", 1e6, "items/s", "matcher >= 1M items/s"),
    "matcher.speedup_10k": (">=", 200.0, "x", ">= 200x the naive loop at 10k"),
    "rerank.100k": ("<=", 50.0, "ms", "re-rank 100k <= 50 ms"),
}


@dataclass
class BenchConfig:
    """What to run. ``quick`` shrinks every section (fewer sizes, repeats and clips)."""

    quick: bool = False
    device: str = "cpu"
    sizes: tuple[int, ...] | None = None         # search sizes (default 10k, 100k[, 1M])
    only: tuple[str, ...] = SECTIONS
    repeats: int | None = None                   # timed runs per figure (default 3 quick, 7 full)
    queries: int | None = None                   # search queries (default 100 quick, 200 full)
    full_max: int = 100_000                      # largest size whose 3127-d vectors are held in RAM
    video: str = "auto"                          # "auto" (shared clip when present) | "generated"
    profile: bool = True                         # cProfile the analysis that misses its target
    threads: int | None = None                   # torch/BLAS/FAISS threads (default: usable CPUs)
    seed: int = 0

    @property
    def n_repeats(self) -> int:
        return self.repeats or (3 if self.quick else 7)

    @property
    def search_sizes(self) -> tuple[int, ...]:
        return self.sizes or ((10_000, 100_000) if self.quick else (10_000, 100_000, 1_000_000))




# --- measurement -------------------------------------------------------------------------------

def summarize(wall_s: list[float], cpu_s: list[float] | None = None) -> dict:
    """Median, min, max, quartiles (ms) of wall times; median CPU time when given."""
    w = np.asarray(wall_s, np.float64) * 1000
    out = {"median_ms": float(np.median(w)), "min_ms": float(w.min()), "max_ms": float(w.max()),
           "q1_ms": float(np.percentile(w, 25)), "q3_ms": float(np.percentile(w, 75)), "n": int(w.size)}
    if cpu_s:
        out["cpu_median_ms"] = float(np.median(cpu_s) * 1000)
    return out


def timed_runs(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeats`` (at least 1) calls of ``fn``."""
    wall, cpu = [], []
    for _ in range(max(1, repeats)):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def time_calls(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5) -> dict:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` timed times; :func:`summarize`."""
    for _ in range(warmup):
        fn()
    return summarize(*timed_runs(fn, repeats))


def time_each(fn: Callable[[object], object], args, *, warmup: int = 3) -> dict:
    """Time ``fn(a)`` once per item of ``args`` (after ``warmup`` untimed calls on the first)."""
    args = list(args)
    for _ in range(warmup):
        fn(args[0])
    wall, cpu = [], []
    for a in args:
        c0, t0 = time.process_time(), time.perf_counter()
        fn(a)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return summarize(wall, cpu)


def _status_kb(field_name: str, path: str = "/proc/self/status") -> int | None:
    """A ``Field:  N kB`` line of a /proc file, in kB (None where unknown)."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _mem_available() -> int:
    """MemAvailable from /proc/meminfo in bytes (0 where unknown)."""
    kb = _status_kb("MemAvailable", "/proc/meminfo")
    return (kb or 0) * 1024


def _rss_bytes() -> int | None:
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb * 1024
    try:
        import psutil  # optional

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return None


class PeakMemory:
    """Peak RSS growth (MB) of this process while the block runs; see the module docstring.

    ``method`` says how it was measured: ``vmhwm-reset`` (exact kernel high-water mark),
    ``rss-sampling`` (5 ms sampling thread), ``ru_maxrss`` (lifetime peak: growth shows only
    when the block sets a new peak) or ``unavailable``.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.peak_mb: float | None = None
        self.gpu_peak_mb: float | None = None
        self.method = "unavailable"

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self._start = _rss_bytes()
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread = None
        if self._start is not None and _reset_hwm():
            self.method = "vmhwm-reset"
        elif self._start is not None:
            self.method = "rss-sampling"
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            import resource

            self.method = "ru_maxrss"
            self._start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._gpu_start = torch.cuda.memory_allocated()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            rss = _rss_bytes()
            if rss is not None:
                self._samples.append(rss)

    def __exit__(self, *exc) -> None:
        if self.method == "vmhwm-reset":
            peak = (_status_kb("VmHWM") or 0) * 1024
        elif self.method == "rss-sampling":
            self._stop.set()
            self._thread.join()
            peak = max(self._samples + [_rss_bytes() or 0])
        else:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak_mb = max(0.0, (peak - self._start) / 2**20)
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.gpu_peak_mb = max(0.0, (torch.cuda.max_memory_allocated() - self._gpu_start) / 2**20)

    def to_dict(self) -> dict:
        out = {"peak_rss_mb": _r(self.peak_mb), "method": self.method}
        if self.gpu_peak_mb is not None:
            out["gpu_peak_mb"] = _r(self.gpu_peak_mb)
        return out


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_kb("VmHWM") is not None
    except OSError:
        return False


def _r(x, nd: int = 3):
    return None if x is None else float(round(float(x), nd))


def system_info(device: str = "cpu") -> dict:
    """CPU model, cores, load, library versions, and the torch device name."""
    info: dict = {"platform": platform.platform(), "python": platform.python_version(),
                  "cpu_model": _cpu_model(), "cpu_count": os.cpu_count()}
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        info["cpus_usable"] = os.cpu_count()
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = bool(torch.cuda.is_available())
        if device.startswith("cuda") and torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
    except ImportError:
        info["torch"] = None
    info["numpy"] = np.__version__
    try:
        import faiss

        info["faiss"] = faiss.__version__
    except ImportError:
        info["faiss"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{"api": p.get("internal_api"), "threads": p.get("num_threads")} for p in threadpool_info()]
    except ImportError:
        pass
    info["device"] = device
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- rows and targets --------------------------------------------------------------------------

def make_row(key: str, figure: str, value, unit: str, *, stats: dict | None = None,
             memory: dict | None = None, note: str = "", cpu_value=None) -> dict:
    """One reported figure; rows whose ``key`` is in :data:`TARGETS` carry target and pass.

    ``cpu_value``: the same figure computed from CPU time instead of wall time (defaults to the
    stats' median CPU ms for "ms" rows); on a shared machine it shows what waiting for a core
    cost. ``pass`` is judged on wall time, ``cpu_pass`` on CPU time.
    """
    if cpu_value is None and stats and unit == "ms":
        cpu_value = stats.get("cpu_median_ms")
    row = {"key": key, "figure": figure, "value": None if value is None else float(value), "unit": unit,
           "cpu_value": None if cpu_value is None else float(cpu_value), "stats": stats, "memory": memory,
           "note": note, "target": None, "pass": None, "cpu_pass": None}
    if key in TARGETS:
        op, thr, _, text = TARGETS[key]
        row["target"] = text
        for field_, v in (("pass", value), ("cpu_pass", cpu_value)):
            if v is not None and np.isfinite(v):
                row[field_] = bool(v <= thr if op == "<=" else v >= thr)
    return row


def check_device(device: str) -> str:
    """Validate ``--device``; CUDA must exist when asked for (one-line ConfigError otherwise)."""
    device = (device or "cpu").lower()
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda"):
        from recsys.device import get_device

        return get_device(device)
    return device



_CHILD_THREADS: int | None = None   # set by run_bench from BenchConfig.threads


def _child_env(**extra) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    if _CHILD_THREADS:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(_CHILD_THREADS)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _run_child(args: list[str], env: dict | None = None, timeout: float = 900) -> dict:
    """Run ``python -m benchmarks.bench <args>`` in a fresh process; its last stdout line is JSON."""
    cmd = [sys.executable, "-m", "benchmarks.bench", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or _child_env(), timeout=timeout,
                          cwd=str(REPO_ROOT))
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        tail = " ".join((proc.stderr or "").strip().splitlines()[-3:])
        raise RecsysError(f"bench child {' '.join(args[:2])} failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])



def profile_call(fn: Callable[[], object], top: int = 15) -> dict:
    """cProfile one call: the ``top`` functions by cumulative and by own time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    st = pstats.Stats(prof)

    def rows(sort_index: int):
        items = sorted(((k, v) for k, v in st.stats.items() if not k[0].startswith(_BENCH_DIR)),
                       key=lambda kv: -kv[1][sort_index])[:top]
        out = []
        for (file, line, name), (cc, nc, tt, ct, _callers) in items:
            short = file
            for root in (str(REPO_ROOT) + os.sep, "site-packages" + os.sep):
                if root in short:
                    short = short.split(root, 1)[1]
            out.append({"function": f"{short}:{line}({name})", "calls": int(nc),
                        "own_ms": round(tt * 1000, 1), "cumulative_ms": round(ct * 1000, 1)})
        return out

    return {"by_cumulative": rows(3), "by_own_time": rows(2), "total_ms": round(st.total_tt * 1000, 1)}



@contextmanager
def thread_limits(n: int | None):
    """Limit torch intra-op threads, BLAS/OpenMP pools (threadpoolctl) and the bench's child
    processes to ``n`` threads; None leaves the libraries' defaults (every usable CPU).
    On a machine shared with other work, 1 thread avoids threads spinning while they wait for
    a descheduled sibling (measured 6x slower at 2 threads under a load average of 8)."""
    global _CHILD_THREADS
    if not n:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    _CHILD_THREADS = n
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(old)
        _CHILD_THREADS = None




def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (f"{n // 1000}k" if n % 1000 == 0 else str(n))



def _paired_speedup(slow: Callable[[], object], fast: Callable[[], object], *, scale: float = 1.0,
                    pairs: int = 3, fast_calls: int = 30) -> dict:
    """How many times faster ``fast`` is than ``slow``, measured in adjacent pairs.

    Each pair times one ``slow`` call (multiplied by ``scale``, e.g. to extrapolate a sample)
    between two blocks of ``fast_calls`` calls of ``fast``, and divides it by the median of those
    2 x ``fast_calls`` times; the result is the median over ``pairs``. Why paired: on the
    development VM a steady loop of the same 10k-item matcher call moves between 1.4 and 2.8 ms
    in phases of a few seconds (no steal time reported; the host's other load), so timing the two
    sides tens of seconds apart let one land in a fast phase and the other in a slow one. Returns
    the wall and CPU-time ratios, the ratio of each pair and both sides' times (ms, ``slow``
    scaled).
    """
    for _ in range(11):  # warm-up
        fast()
    ratios, cpu_ratios, slow_ms, fast_ms = [], [], [], []
    for _ in range(max(1, pairs)):
        wall_before, cpu_before = timed_runs(fast, fast_calls)
        s = summarize(*timed_runs(slow, 1))
        wall_after, cpu_after = timed_runs(fast, fast_calls)
        f = summarize(wall_before + wall_after, cpu_before + cpu_after)
        slow_ms.append(s["median_ms"] * scale)
        fast_ms.append(f["median_ms"])
        ratios.append(slow_ms[-1] / f["median_ms"])
        cpu_ratios.append(s["cpu_median_ms"] * scale / max(f["cpu_median_ms"], 1e-9))
    return {"ratio": float(np.median(ratios)), "cpu_time_ratio": float(np.median(cpu_ratios)),
            "pair_ratios": [float(r) for r in ratios], "extrapolated_10k_ms": float(np.median(slow_ms)),
            "batched_ms": float(np.median(fast_ms)), "slow_ms_per_pair": slow_ms, "fast_ms_per_pair": fast_ms}
