"""benchmarks.bench: the smallest configuration of a few bench functions returns sane structures.

The whole bench is not run here (``python -m recsys bench --quick`` does that); model-loading
parts are marked slow.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench import (
    build,
    cli,
    harness,
    matcher,
    report,
    rerank,
    search,
    synthetic,
    umap,
)
from recsys.analysis.item_vector import vector_dim
from recsys.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TINY = harness.BenchConfig(quick=True, repeats=2, queries=12, threads=1)


def check_rows(rows):
    assert rows, "a section returns at least one row"
    for r in rows:
        assert {"key", "figure", "value", "unit", "stats", "memory", "target", "pass", "note"} <= set(r)
        if r["value"] is not None:
            assert np.isfinite(r["value"]) and r["value"] >= 0
        if r["stats"]:
            st = r["stats"]
            assert st["min_ms"] <= st["median_ms"] <= st["max_ms"] and st["n"] >= 1
        if r["target"] and r["value"] is not None:
            assert isinstance(r["pass"], bool)
    json.dumps(rows)   # serialisable


def test_summarize_and_time_calls():
    st = harness.summarize([0.003, 0.001, 0.002], [0.001, 0.001, 0.001])
    assert st["median_ms"] == pytest.approx(2.0) and st["min_ms"] == pytest.approx(1.0)
    assert st["max_ms"] == pytest.approx(3.0) and st["q1_ms"] <= st["median_ms"] <= st["q3_ms"]
    calls = []
    st = harness.time_calls(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and st["n"] == 3 and "cpu_median_ms" in st


PEAK_CHILD = """
import json, numpy as np
from benchmarks.bench import harness
with harness.PeakMemory() as mem:
    a = np.ones(40 * 2**20 // 8)      # 40 MB that tracemalloc-free code would not report
    a[::512] = 2.0
    del a
print(json.dumps({"method": mem.method, "peak_mb": mem.peak_mb}))
"""


def test_peak_memory_sees_numpy_buffers():
    # In a fresh process: after a long test session the allocator may serve 40 MB from memory that
    # is already resident, and then no resident-set measure can see it.
    out = subprocess.run([sys.executable, "-c", PEAK_CHILD], capture_output=True, text=True, check=True)
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    assert mem["method"] in ("vmhwm-reset", "rss-sampling", "ru_maxrss")
    if mem["method"] != "ru_maxrss":
        assert mem["peak_mb"] >= 30


def test_make_row_targets():
    assert harness.make_row("rerank.100k", "x", 10.0, "ms")["pass"] is True
    assert harness.make_row("rerank.100k", "x", 80.0, "ms")["pass"] is False
    assert harness.make_row("matcher.items_per_s", "x", 2e6, "items/s")["pass"] is True
    assert harness.make_row("search.1M.pipeline.recall", "x", None, "")["pass"] is None
    assert harness.make_row("something.else", "x", 1.0, "ms")["target"] is None


def test_clustered_vectors_shape_and_realism():
    x = synthetic.clustered_vectors(400, seed=0)
    assert x.shape == (400, vector_dim()) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(x, synthetic.clustered_vectors(400, seed=0))     # deterministic
    s = x @ x.T
    np.fill_diagonal(s, np.nan)
    assert 0.1 < np.nanmean(s) < 0.5                      # anisotropic like real embeddings
    assert np.nanmax(s, axis=1).mean() > np.nanmean(s) + 0.2   # with real neighbours
    audio_only = ~x[:, :1280].any(axis=1)
    assert 0.2 < audio_only.mean() < 0.8                   # audio items have no visual block


def test_synth_music_is_deterministic_stereo():
    y = synthetic.synth_music(2.0, sr=16000, seed=3)
    assert y.shape == (32000, 2) and y.dtype == np.float32
    assert 0.5 < np.abs(y).max() <= 0.8 + 1e-6
    np.testing.assert_array_equal(y, synthetic.synth_music(2.0, sr=16000, seed=3))


def test_bench_search_smallest(tmp_path):
    out = search.bench_search(TINY, sizes=(2000,), ef_sweep=(16, 64), hnsw_params={"threads": 1})
    check_rows(out["rows"])
    d = out["details"]["sizes"]["2k"]
    assert 0.5 < d["exact256"]["recall_vs_full"] <= 1.0
    assert d["hnsw"]["recall_vs_exact256"] >= 0.9
    assert d["hnsw_rerank"]["recall_vs_full"] >= d["hnsw"]["recall_vs_full"] - 1e-9
    assert [e["ef_search"] for e in d["ef_sweep"]] == [16, 64]
    keys = {r["key"] for r in out["rows"]}
    assert "search.1M.pipeline.latency_b1" in keys        # reported as not run


def test_merge_topk_matches_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.random((5, 1000)).astype(np.float32)
    best_s, best_i = np.full((5, 10), -np.inf, np.float32), np.full((5, 10), -1)
    for start in range(0, 1000, 300):
        best_s, best_i = search._merge_topk(best_s, best_i, scores[:, start:start + 300], start, 10)
    ref = np.argsort(-scores, axis=1)[:, :10]
    assert all(set(a) == set(b) for a, b in zip(best_i, ref))


@pytest.mark.parametrize("ram", [True, False])
def test_bench_search_streamed_path(monkeypatch, tmp_path, ram):
    """Above ``full_max`` the reference is streamed; re-ranking reads the float16 vectors from RAM
    when memory allows, else from the memmap."""
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path))
    if not ram:
        monkeypatch.setattr(search, "_mem_available", lambda: 0)
    cfg = harness.BenchConfig(quick=True, repeats=1, queries=8, full_max=100, threads=1)
    out = search.bench_search(cfg, sizes=(1500,), ef_sweep=(32,), rerank_sweep=(20, 60), hnsw_params={"threads": 1})
    check_rows(out["rows"])
    d = out["details"]["sizes"]["1500"]
    assert d["hnsw_rerank"]["full_vectors"] == ("RAM float16" if ram else "disk memmap float16")
    assert "exact_full" not in d
    assert d["hnsw_rerank"]["recall_vs_full"] >= 0.9
    assert [e["candidates"] for e in d["rerank_sweep"]] == [20, 60]
    results = {"system": {**harness.system_info("cpu"), "load_average_end": None}, "config": cli._config_dict(cfg),
               "sections": {"search": out}, "started_at": "now", "total_seconds": 1.0}
    assert "Re-ranked candidates, 1500 items" in report.format_markdown(results)
    assert not list((tmp_path / "bench").glob("full_*.f16")), "the memmap is removed afterwards"


def test_bench_matcher_smallest():
    out = matcher.bench_matcher(TINY, sizes=(2000, 10_000), naive_sample=20)
    check_rows(out["rows"])
    keys = {r["key"] for r in out["rows"]}
    assert {"matcher.items_per_s", "matcher.speedup_10k"} <= keys
    assert out["details"]["naive"]["ratio"] > 1


def test_paired_speedup_times_each_slow_call_between_fast_blocks(monkeypatch):
    """A fake clock that each call advances by a set amount: the ratio is known exactly."""
    calls: list[str] = []
    clock = {"wall": 0.0, "cpu": 0.0}
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=lambda: clock["wall"],
                                                              process_time=lambda: clock["cpu"]))
    cost = {"slow": [0.020, 0.030], "fast": 0.001}  # wall seconds; CPU time is half of it

    def slow():
        calls.append("slow")
        took = cost["slow"][calls.count("slow") - 1]
        clock["wall"] += took
        clock["cpu"] += took / 2

    def fast():
        calls.append("fast")
        clock["wall"] += cost["fast"]
        clock["cpu"] += cost["fast"] / 2

    out = harness._paired_speedup(slow, fast, scale=10.0, pairs=2, fast_calls=4)
    # 11 untimed warm-up calls, then per pair: 4 fast, 1 slow, 4 fast.
    assert calls == ["fast"] * 11 + (["fast"] * 4 + ["slow"] + ["fast"] * 4) * 2
    assert out["pair_ratios"] == pytest.approx([200.0, 300.0])     # 10 x 20 ms / 1 ms, 10 x 30 ms / 1 ms
    assert out["ratio"] == pytest.approx(250.0) and out["cpu_time_ratio"] == pytest.approx(250.0)
    assert out["extrapolated_10k_ms"] == pytest.approx(250.0) and out["batched_ms"] == pytest.approx(1.0)


def test_naive_recommend_agrees_with_batched():
    import torch

    from recsys.models.matcher import _build_net, _item_half, _score_all

    torch.manual_seed(0)
    net = _build_net(2 * 4 + 3, (8, 4)).eval()
    rng = np.random.default_rng(0)
    p, u, items = (rng.standard_normal(s).astype(np.float32) for s in ((1, 4), (1, 3), (50, 4)))
    batched = _score_all(net, p, u, _item_half(net, torch.from_numpy(items)))[0]
    top = matcher.naive_recommend(net, p[0], u[0], items, k=5)
    np.testing.assert_array_equal(top, np.argsort(batched)[::-1][:5])


def test_bench_rerank_smallest():
    out = rerank.bench_rerank(TINY, sizes=(5000,), mmr_sizes=(5000,))
    check_rows(out["rows"])
    assert {r["key"] for r in out["rows"]} == {"rerank.5k", "rerank.5k.mmr"}


def test_report_formats(tmp_path):
    out = rerank.bench_rerank(TINY, sizes=(2000,), mmr_sizes=())
    results = {"system": harness.system_info("cpu"), "config": cli._config_dict(TINY),
               "sections": {"rerank": out, "umap": {"rows": [], "error": "ImportError: x"}},
               "started_at": "now", "total_seconds": 1.0}
    results["system"]["load_average_end"] = None
    text = report.format_table(results)
    assert "re-rank 2k" in text and "ERROR" in text and "CPU" in text
    j, m = report.write_reports(results, tmp_path)
    assert json.loads(j.read_text())["sections"]["rerank"]["rows"]
    assert m.read_text().startswith("# Benchmark results")


def test_parse_size_and_device():
    assert cli.parse_size("10k") == 10_000 and cli.parse_size("1M") == 1_000_000
    assert cli.parse_size("250000") == 250_000
    for bad in ("ten", "5"):
        with pytest.raises(ConfigError):
            cli.parse_size(bad)
    assert harness.check_device("cpu") == "cpu"
    with pytest.raises(ConfigError):
        harness.check_device("tpu")


def test_cli_cuda_absent_is_one_line_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    proc = subprocess.run([sys.executable, "-m", "recsys", "bench", "--device", "cuda", "--only", "rerank",
                           "--json", "--out", ""], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cuda" in lines[0].lower() and "Traceback" not in proc.stderr


def test_cli_json_only_rerank(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "recsys", "bench", "--quick", "--only", "rerank", "--json",
                           "--repeats", "2", "--threads", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)           # stdout is only JSON
    assert set(data["sections"]) == {"rerank"}
    assert any(r["key"] == "rerank.100k" for r in data["targets"])
    assert (tmp_path / "bench.json").is_file() and (tmp_path / "bench.md").is_file()


@pytest.mark.slow
def test_bench_umap_smallest():
    out = umap.bench_umap(TINY, sizes=(100,), cold=False)
    check_rows(out["rows"])


@pytest.mark.slow
def test_bench_build_smallest():
    out = build.bench_build(TINY)
    check_rows(out["rows"])
    assert out["details"]["n_clips"] == 4


@pytest.mark.parametrize("hidden", [(16, 8), (16,), (16, 8, 4)])
def test_score_all_equals_the_plain_forward_pass(monkeypatch, hidden):
    """The split first layer, the hand-applied layers and the item chunks give the scores of
    net(concat[p, u, f])."""
    import torch

    from recsys.models import matcher as matcher_mod

    torch.manual_seed(0)
    net = matcher_mod._build_net(2 * 6 + 5, hidden).eval()
    rng = np.random.default_rng(1)
    p, u, items = (rng.standard_normal(s).astype(np.float32) for s in ((3, 6), (3, 5), (1000, 6)))
    pairs = np.concatenate([np.repeat(np.hstack([p, u]), len(items), 0), np.tile(items, (3, 1))], 1)
    with torch.no_grad():
        ref = net(torch.from_numpy(pairs)).numpy().reshape(3, len(items))
    monkeypatch.setitem(matcher_mod._CHUNK_CELLS, "cpu", 3 * 16 * 70)  # 70 items a chunk: 15 chunks
    got = matcher_mod._score_all(net, p, u, matcher_mod._item_half(net, torch.from_numpy(items)))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_score_all_refuses_an_unknown_architecture():
    import torch

    from recsys.errors import ConfigError
    from recsys.models import matcher as matcher_mod

    net = torch.nn.Sequential(torch.nn.Linear(17, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    items = torch.zeros(5, 6)
    with pytest.raises(ConfigError, match="Linear, ReLU"):
        matcher_mod._score_all(net, np.zeros((1, 6), np.float32), np.zeros((1, 5), np.float32),
                               matcher_mod._item_half(net, items))
