"""Section ``analysis``: one 30 s audio clip and one 30 s 720p video, cold and warm, per stage;
transcription apart on a speech clip."""
from __future__ import annotations

import time

from benchmarks.bench.harness import (
    TARGETS,
    BenchConfig,
    PeakMemory,
    _log,
    _r,
    _run_child,
    _status_kb,
    make_row,
    profile_call,
    summarize,
)
from benchmarks.bench.synthetic import bench_clips
from recsys.errors import RecsysError

STAGES = ("load_models", "decode", "frames", "sound", "music", "text", "understanding", "total")


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
