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

Layout: :mod:`~benchmarks.bench.harness` (config, timing, peak memory, rows),
:mod:`~benchmarks.bench.synthetic` (generated vectors and clips), one module per section
(:mod:`~benchmarks.bench.analysis`, ``build``, ``search``, ``matcher``, ``rerank``, ``umap``),
:mod:`~benchmarks.bench.report` (table, Markdown, JSON) and :mod:`~benchmarks.bench.cli` (the
command and the child-process entry, ``python -m benchmarks.bench``).
"""
from benchmarks.bench.cli import register_bench, run_bench
from benchmarks.bench.harness import SECTIONS, TARGETS, BenchConfig
from benchmarks.bench.search import RERANK_CANDIDATES

__all__ = ["BenchConfig", "RERANK_CANDIDATES", "SECTIONS", "TARGETS", "register_bench", "run_bench"]
