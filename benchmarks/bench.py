"""Speed benchmarks: ``python -m recsys bench [--quick] [--json] [--device cpu|cuda] [--sizes ...]``.

Sections (``--only`` picks some; ``benchmarks/README.md`` explains every figure):

analysis  one 30 s audio clip and one 30 s 720p video with sound: cold (a fresh process, its
          first call, model loading included) and warm (models loaded), per stage
          (``Analyzer.timings_ms``); transcription measured apart on one speech clip
build     catalog build throughput (seconds of audio analysed per wall second) over generated
          clips, with an empty temporary ``RECSYS_CACHE_DIR`` so nothing is reused
search    top-10 latency (one query per call, and batched) and recall@10 at 10k/100k/1M items
          of clustered 3127-d vectors: exact and HNSW on the 256-d projection, exact on the
          full vectors (<= 100k), HNSW + exact re-ranking of candidates, an efSearch sweep
matcher   the learned matcher's batched scoring throughput vs the one-call-per-item loop
rerank    ``ranker.rank`` after a weight change over prebuilt ComponentScores
umap      UMAP fit and transform() per catalog size; numba's cold compile measured apart

Every timing is a median over repeated runs after warm-up, with min/max and the interquartile
range; CPU time (``time.process_time``) is recorded beside wall time, because on a shared
machine wall time also counts time spent waiting for a core. Peak memory is resident set size
(RSS) growth over the block, so numpy/torch/FAISS buffers count (``tracemalloc`` would miss
them): on Linux the kernel's high-water mark ``VmHWM`` is reset through
``/proc/self/clear_refs`` before the block and read after it; elsewhere a thread samples RSS
every 5 ms. On CUDA, ``torch.cuda.max_memory_allocated`` is reported too.

Results go to stdout (a table, or JSON with ``--json``) and to ``reports/bench.json`` and
``reports/bench.md``. Progress goes to stderr.
"""
from __future__ import annotations

import cProfile
import gc
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from recsys.errors import ConfigError, RecsysError
from recsys.paths import REPO_ROOT, SHARED_MEDIA_DIR, cache_dir

SECTIONS = ("analysis", "build", "search", "matcher", "rerank", "umap")
BBB_CLIP = SHARED_MEDIA_DIR / "video" / "blender" / "big_buck_bunny_0_30.webm"
SPEECH_CLIP = SHARED_MEDIA_DIR / "audio" / "librosa" / "198-209-0000.ogg"
MEDIA_VERSION = 1  # bump when the generated clips change (they are cached under cache_dir()/bench)

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


# --- synthetic data ----------------------------------------------------------------------------

class ClusteredVectors:
    """Item vectors shaped like the catalog's (3127-d, per-block normalised and weighted).

    A Gaussian mixture in a ``latent_dim`` latent space (``n_clusters`` centres with Zipf-sized
    clusters -- a few big genres, many niches -- and a power-law spectrum) is mapped into every
    block by a fixed random linear map, offset by a block mean direction (real embeddings are
    anisotropic: their mean pairwise cosine is well above 0), blurred by isotropic noise, and
    assembled like :func:`recsys.analysis.item_vector.item_vector`: audio items have a zero visual block,
    some videos a zero audio block. The defaults were calibrated against the 76-clip shared
    catalog (``data/catalogs/shared``): mean pairwise cosine 0.27 (real 0.26), mean cosine to
    the 10th neighbour 0.40 (real 0.45), and singular-value energy in the top 5/20/40
    components 0.52/0.78/0.91 (real 0.55/0.78/0.91). Noise is uniform with Gaussian variance
    (4x cheaper to draw; after projection it is indistinguishable).
    """

    def __init__(self, *, n_clusters: int = 1000, latent_dim: int = 128, zipf: float = 1.0,
                 spread: float = 0.3, noise: float = 0.4, mean_weight: float = 0.7, decay: float = 0.5,
                 silent_video: float = 0.15, seed: int = 0):
        from recsys.analysis.item_vector import BLOCK_WEIGHTS, block_layout

        rng = np.random.default_rng(seed)
        self.layout = block_layout()
        self.dim = max(s.stop for s in self.layout.values())
        self.n_clusters, self.latent_dim = n_clusters, latent_dim
        p = np.arange(1, n_clusters + 1, dtype=np.float64) ** -zipf
        self.cluster_p = p / p.sum()
        self.scale = (np.arange(1, latent_dim + 1) ** -decay).astype(np.float32)
        self.centres = rng.standard_normal((n_clusters, latent_dim)).astype(np.float32)
        self.video_share = rng.random(n_clusters)
        self.maps, self.means, self.weights = {}, {}, {}
        for b, sl in self.layout.items():
            d = sl.stop - sl.start
            self.maps[b] = (rng.standard_normal((latent_dim, d)) / np.sqrt(latent_dim)).astype(np.float32)
            mu = rng.standard_normal(d)
            self.means[b] = (mean_weight * mu / np.linalg.norm(mu)).astype(np.float32)
            self.weights[b] = np.float32(np.sqrt(BLOCK_WEIGHTS[b]))
        self.spread, self.noise, self.silent_video = spread, noise, silent_video

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """(m, 3127) float32, rows L2-normalised."""
        c = rng.choice(self.n_clusters, size=m, p=self.cluster_p)
        z = (self.centres[c] + self.spread * rng.standard_normal((m, self.latent_dim), dtype=np.float32)) * self.scale
        video = rng.random(m) < self.video_share[c]
        silent = video & (rng.random(m) < self.silent_video)
        out = np.empty((m, self.dim), np.float32)
        for b, sl in self.layout.items():
            d = sl.stop - sl.start
            x = z @ self.maps[b]
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            x += self.means[b]
            noise = rng.random((m, d), dtype=np.float32)
            noise -= 0.5
            noise *= np.float32(np.sqrt(12.0) * self.noise / np.sqrt(d))
            x += noise
            x *= self.weights[b] / np.linalg.norm(x, axis=1, keepdims=True)
            if b == "visual":
                x[~video] = 0
            elif b == "audio":
                x[silent] = 0
            out[:, sl] = x
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def stream(self, n: int, *, seed: int, chunk: int = 8192):
        """Yield (start, (c, 3127) chunk) covering ``n`` items, deterministic for a seed."""
        rng = np.random.default_rng(seed)
        for start in range(0, n, chunk):
            yield start, self.sample(min(chunk, n - start), rng)


def clustered_vectors(n: int, *, seed: int = 0, **params) -> np.ndarray:
    """(n, 3127) float32 clustered item vectors (see :class:`ClusteredVectors`)."""
    gen = ClusteredVectors(**params)
    out = np.empty((n, gen.dim), np.float32)
    for start, chunk in gen.stream(n, seed=seed + 1):
        out[start:start + len(chunk)] = chunk
    return out


NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def synth_music(seconds: float, *, sr: int = 44100, bpm: float = 112.0, key: int = 0, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 stereo: a I-V-vi-IV pad, bass, a random melody on the major scale,
    kick/snare/hi-hat. Deterministic for (seconds, sr, bpm, key, seed)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros((n, 2), np.float32)
    beat = 60.0 / bpm
    t_all = np.arange(n, dtype=np.float64) / sr

    def add(start_s, dur_s, freq, amp, pan=0.5, decay=3.0, harmonics=(1.0, 0.5, 0.25)):
        i0 = int(start_s * sr)
        if i0 >= n:
            return
        i1 = min(n, i0 + int(dur_s * sr))
        t = t_all[: i1 - i0]
        env = np.exp(-decay * t / dur_s) * np.minimum(1.0, t / 0.01)
        wave = sum(h * np.sin(2 * np.pi * freq * (j + 1) * t) for j, h in enumerate(harmonics))
        sig = (amp * env * wave).astype(np.float32)
        out[i0:i1, 0] += (1 - pan) * sig
        out[i0:i1, 1] += pan * sig

    def hz(semitones_from_a4):
        return 440.0 * 2 ** (semitones_from_a4 / 12)

    scale = [0, 2, 4, 5, 7, 9, 11]
    chords = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]   # I V vi IV
    base = key - 9 - 12                                           # key's tonic, octave below A4-ish
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar))
    for b in range(n_bars):
        chord = chords[(b // 2) % 4]
        t0 = b * bar
        for iv in chord:
            add(t0, bar, hz(base + iv), 0.06, pan=0.3 + 0.4 * rng.random(), decay=1.0)
        for q in range(4):
            add(t0 + q * beat, beat, hz(base - 12 + chord[0]), 0.18, decay=4.0, harmonics=(1.0, 0.3))
            # drums: kick on 1 and 3, snare on 2 and 4, hi-hat on eighths
            i0 = int((t0 + q * beat) * sr)
            if i0 < n:
                m = min(n - i0, int(0.25 * sr))
                t = t_all[:m]
                if q % 2 == 0:
                    kick = np.sin(2 * np.pi * (50 + 70 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
                    out[i0:i0 + m] += (0.5 * kick).astype(np.float32)[:, None]
                else:
                    snare = rng.standard_normal(m) * np.exp(-t * 25)
                    out[i0:i0 + m] += (0.15 * snare).astype(np.float32)[:, None]
            for e in range(2):
                j0 = int((t0 + (q + 0.5 * e) * beat) * sr)
                if j0 < n:
                    m = min(n - j0, int(0.05 * sr))
                    hat = np.diff(rng.standard_normal(m + 1)) * np.exp(-t_all[:m] * 80)
                    out[j0:j0 + m, 1 - e] += (0.05 * hat).astype(np.float32)
        for e in range(8):                                         # melody in eighths
            if rng.random() < 0.75:
                deg = scale[int(rng.integers(0, 7))] + 12 * int(rng.integers(1, 3))
                add(t0 + e * beat / 2, beat / 2, hz(base + deg), 0.1, pan=0.6, decay=5.0)
    peak = float(np.abs(out).max()) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int) -> Path:
    """(n, 2) float32 at ``sr`` Hz -> AAC in ``path`` (an .m4a); atomic."""
    from benchmarks.av_writer import write_av

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write_av(str(tmp), audio=y, sr=sr, acodec="aac")
    os.replace(tmp, path)
    return path


def write_video(path: Path, *, seconds: float = 30.0, size: tuple[int, int] = (1280, 720), fps: int = 24,
                seed: int = 0) -> Path:
    """A deterministic H.264/AAC MP4: drifting colour gradients, moving shapes, a scrolling
    texture, a scene cut every 6 s, and a :func:`synth_music` soundtrack (48 kHz stereo)."""
    from benchmarks.av_writer import write_av

    w, h = size
    rng = np.random.default_rng(seed)
    texture = (rng.random((h // 8 + 2, w // 8 + 2)) * 60).astype(np.float32)
    texture = np.kron(texture, np.ones((8, 8), np.float32))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    palettes = rng.random((int(seconds // 6) + 2, 2, 3)).astype(np.float32) * 255
    shapes = rng.random((int(seconds // 6) + 2, 4, 5)).astype(np.float32)   # x, y, r, vx, vy
    audio = synth_music(seconds, sr=48000, bpm=100, key=5, seed=seed + 1)

    def frames():  # one at a time: 720 frames of 1280x720 would hold 2 GB
        for i in range(int(seconds * fps)):
            t = i / fps
            scene = int(t // 6)
            a, b = palettes[scene]
            mix = (xx / w * 0.7 + yy / h * 0.3 + 0.15 * np.sin(t + xx / 200))[..., None]
            frame = a * (1 - mix) + b * mix
            sx = int(t * 40) % 8
            frame += texture[sx:sx + h, sx:sx + w, None] - 30
            for x0, y0, r, vx, vy in shapes[scene]:
                cx = (x0 + (vx - 0.5) * t * 0.2) % 1.0 * w
                cy = (y0 + (vy - 0.5) * t * 0.2) % 1.0 * h
                rad = 40 + 120 * r
                y_lo, y_hi = int(max(0, cy - rad)), int(min(h, cy + rad))
                x_lo, x_hi = int(max(0, cx - rad)), int(min(w, cx + rad))
                if y_hi > y_lo and x_hi > x_lo:
                    sub = (xx[y_lo:y_hi, x_lo:x_hi] - cx) ** 2 + (yy[y_lo:y_hi, x_lo:x_hi] - cy) ** 2 < rad ** 2
                    frame[y_lo:y_hi, x_lo:x_hi][sub] = 255 - frame[y_lo:y_hi, x_lo:x_hi][sub]
            yield np.clip(frame, 0, 255).astype(np.uint8)

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write_av(str(tmp), frames=frames(), fps=fps, video_options={"preset": "veryfast", "crf": "23"},
             audio=audio, sr=48000)
    os.replace(tmp, path)
    return path


def bench_media_dir() -> Path:
    path = cache_dir() / "bench" / f"media-v{MEDIA_VERSION}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_clips(cfg: BenchConfig) -> dict:
    """Paths of the analysis clips (generated once, cached) and where the video came from."""
    folder = bench_media_dir()
    audio = folder / "music_30s.m4a"
    if not audio.is_file():
        _log("generating a 30 s AAC music clip")
        write_audio(audio, synth_music(30.0, sr=44100, bpm=112, key=0, seed=cfg.seed), 44100)
    clips = {"audio": {"path": str(audio), "source": "generated: 30 s AAC 44.1 kHz stereo, synthesised music"}}
    generated = folder / "video_720p_30s.mp4"
    want_generated = cfg.video == "generated" or not BBB_CLIP.is_file() or not cfg.quick
    if want_generated and not generated.is_file():
        _log("generating a 30 s 720p H.264/AAC clip (once; cached in the bench media folder)")
        write_video(generated, seed=cfg.seed)
    if cfg.video != "generated" and BBB_CLIP.is_file():
        clips["video"] = {"path": str(BBB_CLIP), "source": "shared: big_buck_bunny_0_30.webm (30 s 720p VP8+Vorbis)"}
        if not cfg.quick:
            clips["video_h264"] = {"path": str(generated),
                                   "source": "generated: 30 s 1280x720 24 fps H.264 + AAC 48 kHz, synthesised"}
    else:
        clips["video"] = {"path": str(generated), "source": "generated: 30 s 1280x720 24 fps H.264 + AAC 48 kHz"}
    if SPEECH_CLIP.is_file():
        clips["speech"] = {"path": str(SPEECH_CLIP), "source": "shared: librosa 198-209-0000.ogg (speech)"}
    return clips


# --- section: analysis -------------------------------------------------------------------------

STAGES = ("load_models", "decode", "frames", "sound", "text", "understanding", "total")


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


def cold_analysis(path: str, device: str, transcribe: str = "never") -> dict:
    """First analysis in a fresh process (runs in the child): imports, model load, stages."""
    t0 = time.perf_counter()
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    t_import = time.perf_counter() - t0
    analyzer = Analyzer(AnalysisConfig(transcribe=transcribe, device=device))
    t1 = time.perf_counter()
    result = analyzer.analyze(path)
    first = time.perf_counter() - t1
    return {"import_s": t_import, "first_call_s": first, "timings_ms": result.timings_ms,
            "duration_s": result.duration_s, "peak_rss_mb": (_status_kb("VmHWM") or 0) / 1024}


def profile_call(fn: Callable[[], object], top: int = 15) -> dict:
    """cProfile one call: the ``top`` functions by cumulative and by own time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    st = pstats.Stats(prof)

    def rows(sort_index: int):
        items = sorted(((k, v) for k, v in st.stats.items() if not k[0].endswith("bench.py")),
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


def bench_analysis(cfg: BenchConfig, analyzer=None, clips: dict | None = None) -> dict:
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    clips = clips or bench_clips(cfg)
    analyzer = analyzer or Analyzer(AnalysisConfig(transcribe="never", device=cfg.device))
    rows, details = [], {"clips": {k: v["source"] for k, v in clips.items()}}
    for name in ("audio", "video", "video_h264"):
        if name not in clips:
            continue
        path = clips[name]["path"]
        _log(f"analysis/{name}: cold (fresh process)")
        t_child = time.perf_counter()
        cold = _run_child(["_cold_analysis", path, "--device", cfg.device])
        cold["process_wall_s"] = time.perf_counter() - t_child   # interpreter start to exit
        _log(f"analysis/{name}: warm x{cfg.n_repeats}")
        analyzer.analyze(path)  # warm-up (loads models on first use in this process)
        per_stage: dict[str, list[float]] = {}
        walls, cpus = [], []
        with PeakMemory(cfg.device) as mem:
            for _ in range(cfg.n_repeats):
                c0, t0 = time.process_time(), time.perf_counter()
                res = analyzer.analyze(path)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                for stage, ms in res.timings_ms.items():
                    per_stage.setdefault(stage, []).append(ms / 1000)
        stages = {s: summarize(v) for s, v in per_stage.items()}
        total = stages["total"]
        wall = summarize(walls, cpus)
        key = "analysis.video.warm_total" if name == "video" else f"analysis.{name}.warm_total"
        label = {"audio": "30 s audio", "video": "30 s 720p video", "video_h264": "30 s 720p H.264 video"}[name]
        rows.append(make_row(key, f"analyse {label}, warm", total["median_ms"], "ms", stats=total,
                             memory=mem.to_dict(), cpu_value=wall["cpu_median_ms"],
                             note=", ".join(f"{s} {stages[s]['median_ms']:.0f}" for s in STAGES[1:-1] if s in stages)))
        cold_total = cold["timings_ms"].get("total", float("nan"))
        rows.append(make_row(f"analysis.{name}.cold", f"analyse {label}, cold (1st call, model load incl.)",
                             cold_total, "ms", memory={"peak_rss_mb": _r(cold["peak_rss_mb"]), "method": "child VmHWM"},
                             note=f"load_models {cold['timings_ms'].get('load_models', 0):.0f} ms; whole fresh "
                                  f"process (interpreter, imports, load, analysis) {cold['process_wall_s']:.1f} s"))
        entry = {"source": clips[name]["source"], "duration_s": res.duration_s, "warm_stages": stages,
                 "warm_wall": wall, "cold": cold, "memory": mem.to_dict()}
        thr = TARGETS.get(key, (None, None))[1]
        if cfg.profile and thr is not None and total["median_ms"] > thr:
            _log(f"analysis/{name}: missed its target, profiling one warm call")
            entry["profile"] = profile_call(lambda: analyzer.analyze(path))
        details[name] = entry
    if "speech" in clips:
        rows += _bench_transcription(cfg, clips["speech"]["path"], details)
    return {"rows": rows, "details": details}


def _bench_transcription(cfg: BenchConfig, path: str, details: dict) -> list[dict]:
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    _log("analysis/speech: transcribe='always' (first call loads Whisper)")
    speaker = Analyzer(AnalysisConfig(transcribe="always", device=cfg.device))
    try:
        first = speaker.analyze(path)
    except RecsysError as err:
        details["speech"] = {"error": str(err)}
        return []
    if any("transcription unavailable" in w for w in first.warnings):
        details["speech"] = {"error": "; ".join(first.warnings)}
        return [make_row("analysis.speech.warm_total", "analyse speech clip with transcription", None, "ms",
                         note="transcription unavailable")]
    per_stage: dict[str, list[float]] = {}
    for _ in range(max(2, cfg.n_repeats // 2)):
        res = speaker.analyze(path)
        for stage, ms in res.timings_ms.items():
            per_stage.setdefault(stage, []).append(ms / 1000)
    stages = {s: summarize(v) for s, v in per_stage.items()}
    details["speech"] = {"duration_s": res.duration_s, "first_call_ms": first.timings_ms, "warm_stages": stages,
                         "transcript_chars": len(res.transcript)}
    return [make_row("analysis.speech.warm_total", f"analyse {res.duration_s:.0f} s speech, transcribe=always, warm",
                     stages["total"]["median_ms"], "ms", stats=stages["total"],
                     note=f"text stage (Whisper tiny.en) {stages['text']['median_ms']:.0f} ms; first call text stage "
                          f"{first.timings_ms.get('text', 0):.0f} ms (Whisper load)")]


# --- section: build ----------------------------------------------------------------------------

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


def build_clips(n_clips: int, seconds: float, seed: int = 0) -> Path:
    """A folder of ``n_clips`` generated music clips (AAC .m4a), cached under cache_dir()/bench."""
    folder = bench_media_dir() / f"build_{n_clips}x{seconds:g}s_seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_clips):
        path = folder / f"track_{i:02d}.m4a"
        if not path.is_file():
            y = synth_music(seconds, sr=44100, bpm=80 + 7 * (i % 9), key=(5 * i) % 12, seed=seed * 1000 + i)
            write_audio(path, y, 44100)
    return folder


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


# --- section: search ---------------------------------------------------------------------------

def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (f"{n // 1000}k" if n % 1000 == 0 else str(n))


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
    from recsys.catalog.index import ExactIndex, HNSWIndex, fit_projection, recall_at_k

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
        rec_p = recall_at_k(ids_p, gt_i)
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
        rec_h_p, rec_h = recall_at_k(ids_h, ids_p), recall_at_k(ids_h, gt_i)
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
        rec_r = recall_at_k(ids_r, gt_i)
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
            d["rerank_sweep"].append({"candidates": c, "recall_vs_full": recall_at_k(ids_c, gt_i),
                                      "b1_median_ms": lat["median_ms"], "b1_cpu_ms": lat.get("cpu_median_ms")})
        sweep = []
        for ef in ef_sweep:
            hnsw.ef_search = ef
            ids_e, _ = hnsw.search(queries, k)
            lat = time_each(lambda q: hnsw.search(q, k), queries[:min(n_b1, 30)], warmup=2)
            sweep.append({"ef_search": ef, "recall_vs_exact256": recall_at_k(ids_e, ids_p),
                          "recall_vs_full": recall_at_k(ids_e, gt_i), "b1_median_ms": lat["median_ms"],
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


# --- section: matcher --------------------------------------------------------------------------

MATCHER_SHAPE = {"item_dim": 64, "user_dim": 384, "hidden": (128, 64)}   # as HybridRecommender fits it


def naive_recommend(net, p_u: np.ndarray, user_feat: np.ndarray, item_features: np.ndarray, *,
                    k: int = 10, device: str = "cpu") -> np.ndarray:
    """The founding document's loop: one ``M(concat[p_u, f_v])`` call per item, then sort.
    Kept as the baseline the batched scoring is measured against (inference mode, to be fair)."""
    import torch

    scores = []
    with torch.no_grad():
        for f_v in item_features:
            x = torch.from_numpy(np.concatenate([p_u, user_feat, f_v]))[None].to(device)
            scores.append(float(net(x)))
    return np.argsort(scores)[::-1][:k]


def _fake_fitted_matcher(net, items: np.ndarray, user_dim: int, device: str):
    """A :class:`~recsys.models.matcher.Matcher` holding ``net`` and ``items`` as if fitted
    (identity standardisation), to time the public ``score_profiles`` path."""
    from recsys.models.matcher import Matcher

    m = Matcher(hidden=MATCHER_SHAPE["hidden"], device=device)
    m.n_users_, m.n_items_ = 1, len(items)
    m.feature_mean_, m.feature_scale_ = np.zeros(items.shape[1], np.float32), np.ones(items.shape[1], np.float32)
    m.item_matrix_ = items
    m.user_mean_, m.user_scale_ = np.zeros(user_dim, np.float32), np.ones(user_dim, np.float32)
    m.user_matrix_ = np.zeros((1, user_dim), np.float32)
    m.net_state_ = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    m._net_cache = m._item_half_cache = None
    return m


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


def bench_matcher(cfg: BenchConfig, sizes: tuple[int, ...] = (10_000, 100_000), *,
                  naive_sample: int | None = None) -> dict:
    import torch

    from recsys.models.matcher import _build_net

    dev = cfg.device
    d_i, d_u, hidden = MATCHER_SHAPE["item_dim"], MATCHER_SHAPE["user_dim"], MATCHER_SHAPE["hidden"]
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        net = _build_net(2 * d_i + d_u, hidden).to(dev).eval()
    rng = np.random.default_rng(cfg.seed)
    profile = rng.standard_normal((1, d_i)).astype(np.float32)
    ufeat = rng.standard_normal((1, d_u)).astype(np.float32)
    profiles16 = rng.standard_normal((16, d_i)).astype(np.float32)
    ufeat16 = rng.standard_normal((16, d_u)).astype(np.float32)
    rows, details = [], {"architecture": f"Linear({2 * d_i + d_u}->{hidden[0]})-ReLU-Linear({hidden[0]}->"
                                         f"{hidden[1]})-ReLU-Linear({hidden[1]}->1), random weights", "sizes": {}}
    matcher_10k = None
    for n in sizes:
        label = _size_label(n)
        items = rng.standard_normal((n, d_i)).astype(np.float32)
        matcher = _fake_fitted_matcher(net, items, d_u, dev)
        _log(f"matcher/{label}: batched scoring")
        # The item half of layer 1 is cached per fitted model (Matcher._item_half), like the
        # app's long-lived model: time the queries, report the one-off preparation apart.
        prep = time_calls(lambda: (setattr(matcher, "_item_half_cache", None), matcher._item_half()),
                          warmup=1, repeats=3)
        # A call takes milliseconds, and the first few after a model change run up to 1.6x slower
        # (allocator and thread pool warming up: median of 7 was 2.1 ms at 10k, of 200 1.4 ms),
        # so warm up longer and take the median of more calls than the slower sections do.
        with PeakMemory(dev) as mem:
            one = time_calls(lambda: matcher.score_profiles(profile, user_features=ufeat), warmup=10,
                             repeats=max(30, cfg.n_repeats))
            many = time_calls(lambda: matcher.score_profiles(profiles16, user_features=ufeat16), warmup=2,
                              repeats=max(5, cfg.n_repeats // 2))
        ips = n / (one["median_ms"] / 1000)
        rows.append(make_row("matcher.items_per_s" if n == max(sizes) else f"matcher.{label}.items_per_s",
                             f"matcher {label} items, 1 user (Matcher.score_profiles)", ips, "items/s", stats=one,
                             memory=mem.to_dict(), cpu_value=n / (one["cpu_median_ms"] / 1000),
                             note=f"16 users: {16 * n / (many['median_ms'] / 1000):.3g} pairs/s; "
                                  f"item half of layer 1, once per model: {prep['median_ms']:.1f} ms"))
        details["sizes"][label] = {"one_user": one, "sixteen_users": many, "item_half_once": prep,
                                   "items_per_s": ips}
        if n == 10_000:
            matcher_10k = matcher
    if matcher_10k is not None:
        sample = min(naive_sample or (1000 if cfg.quick else 10_000), 10_000)
        items = rng.standard_normal((sample, d_i)).astype(np.float32)
        how = "timed on all 10k" if sample == 10_000 else f"timed on {sample} items, extrapolated linearly"
        _log(f"matcher: naive loop over {sample} items ({how}), paired with batched calls")
        details["naive"] = _paired_speedup(
            lambda: naive_recommend(net, profile[0], ufeat[0], items, device=dev),
            lambda: matcher_10k.score_profiles(profile, user_features=ufeat),
            scale=10_000 / sample, pairs=2 if cfg.quick else 3)
        details["naive"]["sample_items"] = sample
        naive = details["naive"]
        rows.append(make_row("matcher.speedup_10k", "matcher 10k: batched vs naive one-call-per-item loop",
                             naive["ratio"], "x", cpu_value=naive["cpu_time_ratio"],
                             note=f"naive {naive['extrapolated_10k_ms'] / 1000:.2f} s for 10k ({how}) vs batched "
                                  f"{naive['batched_ms']:.1f} ms; median of {len(naive['pair_ratios'])} paired "
                                  f"ratios {', '.join(f'{r:.0f}' for r in naive['pair_ratios'])}x"))
    return {"rows": rows, "details": details}


# --- section: rerank ---------------------------------------------------------------------------

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


# --- section: umap -----------------------------------------------------------------------------

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


# --- orchestration -----------------------------------------------------------------------------

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


def _config_dict(cfg: BenchConfig) -> dict:
    d = asdict(cfg)
    d["search_sizes"] = list(cfg.search_sizes)
    d["n_repeats"] = cfg.n_repeats
    return d


# --- output ------------------------------------------------------------------------------------

def _fmt_value(v, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v:.3f} ms" if v < 1 else (f"{v:.1f} ms" if v < 1000 else f"{v / 1000:.2f} s")
    if unit == "items/s":
        return f"{v / 1e6:.2f} M/s" if v >= 1e5 else f"{v:,.0f}/s"
    if unit == "x":
        return f"{v:,.1f}x"
    return f"{v:.3f}"


def _fmt_spread(row: dict) -> str:
    st = row.get("stats")
    if not st or row["unit"] != "ms":
        return ""
    lo, hi = _fmt_value(st["min_ms"], "ms"), _fmt_value(st["max_ms"], "ms")
    return f"{lo} .. {hi} (n={st['n']})"


def _fmt_mem(row: dict) -> str:
    m = row.get("memory") or {}
    parts = []
    if m.get("peak_rss_mb") is not None:
        parts.append(f"+{m['peak_rss_mb']:.0f} MB")
    if m.get("index_mb") is not None:
        parts.append(f"index {m['index_mb']:.0f} MB")
    if m.get("gpu_peak_mb") is not None:
        parts.append(f"GPU {m['gpu_peak_mb']:.0f} MB")
    return ", ".join(parts)


def _status(row: dict) -> str:
    if not row.get("target"):
        return ""
    if row["pass"] is None:
        return "n/a"
    out = "PASS" if row["pass"] else "MISS"
    if row.get("cpu_pass") is not None and row["cpu_pass"] != row["pass"]:
        out += f" (by CPU time: {'PASS' if row['cpu_pass'] else 'MISS'})"
    return out


def table_rows(results: dict) -> list[list[str]]:
    out = []
    for name, sec in results["sections"].items():
        if sec.get("error"):
            out.append([name, f"ERROR: {sec['error']}", "", "", "", "", "", ""])
        for r in sec.get("rows", []):
            out.append([name, r["figure"], _fmt_value(r["value"], r["unit"]), _fmt_spread(r),
                        _fmt_value(r.get("cpu_value"), r["unit"]) if r.get("cpu_value") is not None else "",
                        _fmt_mem(r), r["target"] or "", _status(r)])
    return out


HEADER = ["section", "figure", "median", "min .. max", "by CPU time", "peak memory", "target", "status"]


def format_table(results: dict) -> str:
    """A plain-text table (stdout) with a header on the machine and the targets."""
    rows = table_rows(results)
    widths = [max(len(HEADER[i]), *(len(r[i]) for r in rows)) if rows else len(HEADER[i]) for i in range(len(HEADER))]
    widths[1] = min(widths[1], 78)
    lines = [_machine_line(results), ""]
    fmt = lambda r: "  ".join(c[:widths[i]].ljust(widths[i]) for i, c in enumerate(r)).rstrip()  # noqa: E731
    lines += [fmt(HEADER), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    notes = [(r["figure"], r["note"]) for s in results["sections"].values() for r in s.get("rows", []) if r["note"]]
    if notes:
        lines += ["", "notes:"] + [f"  {f}: {n}" for f, n in notes]
    return "\n".join(lines)


def _machine_line(results: dict) -> str:
    s = results["system"]
    dev = s.get("cuda_device") or "CPU"
    threads = results["config"].get("threads") or f"default ({s.get('torch_threads')})"
    return (f"device {s['device']} ({dev}); CPU {s['cpu_model']} x{s.get('cpus_usable')}, threads {threads}; "
            f"load average "
            f"{s.get('load_average')} at start, {s.get('load_average_end')} at end; torch {s.get('torch')}, "
            f"faiss {s.get('faiss')}; {'quick' if results['config']['quick'] else 'full'} run, "
            f"{results['total_seconds']:.0f} s")


def format_markdown(results: dict) -> str:
    rows = table_rows(results)
    esc = lambda c: c.replace("|", "\\|")  # noqa: E731
    lines = ["# Benchmark results", "", f"Generated by `python -m recsys bench"
             f"{' --quick' if results['config']['quick'] else ''}` at {results['started_at']}.", "",
             _machine_line(results), "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    notes = [(r["figure"], r["note"]) for s in results["sections"].values() for r in s.get("rows", []) if r["note"]]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {esc(f)}: {n}" for f, n in notes]
    search = results["sections"].get("search", {}).get("details", {}).get("sizes", {})
    for label, d in search.items():
        if d.get("rerank_sweep"):
            lines += ["", f"## Re-ranked candidates, {label} items (HNSW efSearch {d['hnsw']['params'].get('ef_search')})",
                      "", "| candidates | recall@10 vs exact full-d | 1-query median (ms) |", "|---|---|---|"]
            lines += [f"| {e['candidates']} | {e['recall_vs_full']:.3f} | {e['b1_median_ms']:.3f} |"
                      for e in d["rerank_sweep"]]
        if d.get("ef_sweep"):
            lines += ["", f"## HNSW efSearch sweep, {label} items", "",
                      "| efSearch | recall@10 vs exact 256-d | recall@10 vs exact 3127-d | 1-query median (ms) |",
                      "|---|---|---|---|"]
            lines += [f"| {e['ef_search']} | {e['recall_vs_exact256']:.3f} | {e['recall_vs_full']:.3f} | "
                      f"{e['b1_median_ms']:.3f} |" for e in d["ef_sweep"]]
    analysis = results["sections"].get("analysis", {}).get("details", {})
    for name, d in analysis.items():
        if isinstance(d, dict) and d.get("profile"):
            lines += ["", f"## Profile of one warm analysis ({name}: {d['source']})", "",
                      "Per stage (median ms): " + ", ".join(f"{s} {v['median_ms']:.0f}"
                                                            for s, v in d["warm_stages"].items()), "",
                      "| function | calls | own ms | cumulative ms |", "|---|---|---|---|"]
            lines += [f"| `{p['function']}` | {p['calls']} | {p['own_ms']} | {p['cumulative_ms']} |"
                      for p in d["profile"]["by_cumulative"]]
            lines += ["", "Top by own time:", "", "| function | calls | own ms | cumulative ms |", "|---|---|---|---|"]
            lines += [f"| `{p['function']}` | {p['calls']} | {p['own_ms']} | {p['cumulative_ms']} |"
                      for p in d["profile"]["by_own_time"]]
    return "\n".join(lines) + "\n"


def write_reports(results: dict, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    j, m = out / "bench.json", out / "bench.md"
    j.write_text(json.dumps(results, indent=1, default=_json_default))
    m.write_text(format_markdown(results))
    return j, m


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --- command line ------------------------------------------------------------------------------

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


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
