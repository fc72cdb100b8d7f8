"""Speed of the musicnn taggers (recsys.encoders.musicnn) on 30 s of real music, warm.

Usage::

    python benchmarks/musicnn_speed.py [--clip FILE] [--threads 1] [--repeats 5] [--device cpu]
                                       [--json out.json]

Default clip: Kevin MacLeod's "Vibe Ace" from ../shared/media/audio/librosa (decoded to 16 kHz
mono with recsys.media.decode.decode, the middle 30 s). Measured, after one warm-up call each: the front end
alone (log-mel patches), each model alone on the 10 patches of 30 s, and ``MusicTagger.tag`` with
both models on all patches and with ``max_patches`` 1, 2 and 3. Reported: median and min wall
time over ``--repeats`` runs and the median CPU time (``time.process_time``; on a shared machine
wall time also counts waiting for a core). The target is at most 0.2 s per 30 s of music for
both models on one CPU thread. The first line gives the CPU, threads and load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the library importable
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_CLIP = REPO_ROOT.parent / "shared" / "media" / "audio" / "librosa" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
SECONDS = 30.0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _time(fn, repeats: int) -> dict:
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "cpu_median_s": statistics.median(cpus),
            "n": repeats}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from recsys.encoders import musicnn as M
    from recsys.media.decode import MediaLimits, decode

    if not args.clip.is_file():
        print(f"clip {args.clip} not found (pass --clip)", file=sys.stderr)
        return 1
    # One contiguous 30 s window (the middle of a longer clip), not the app's three spread windows.
    audio = decode(args.clip, limits=MediaLimits(max_analysed_s=SECONDS, n_windows=1)).audio
    audio = audio[: int(SECONDS * M.SAMPLE_RATE)]
    seconds = audio.shape[0] / M.SAMPLE_RATE

    t0 = time.perf_counter()
    tagger = M.MusicTagger(device=args.device)
    load_s = time.perf_counter() - t0
    patches = M.mel_patches(audio)

    def sync():
        if tagger.device.startswith("cuda"):
            torch.cuda.synchronize()

    rows = {"front end (log-mel patches)": _time(lambda: M.mel_patches(audio), args.repeats)}
    for name, model in tagger._models.items():
        x = torch.from_numpy(patches)

        def run(model=model, x=x):
            with torch.inference_mode():
                for start in range(0, x.shape[0], tagger._chunk):
                    model(x[start:start + tagger._chunk].to(tagger.device))
            sync()

        rows[f"{name} network, {patches.shape[0]} patches"] = _time(run, args.repeats)
    rows[f"tag(): both models, all {patches.shape[0]} patches"] = _time(lambda: tagger.tag(audio), args.repeats)
    for k in (3, 2, 1):
        rows[f"tag(max_patches={k}): both models"] = _time(lambda k=k: tagger.tag(audio, max_patches=k), args.repeats)

    load_end = os.getloadavg()
    print(f"# {_cpu_name()}; torch {torch.__version__}; device {tagger.device}; threads {args.threads}; "
          f"usable cores {len(os.sched_getaffinity(0))}; load average at end {load_end[0]:.1f}")
    print(f"# clip {args.clip.name}: {seconds:.1f} s; model load (both, cold in this process) {load_s:.2f} s")
    print(f"{'step':48s} {'median s':>9s} {'min s':>7s} {'cpu s':>7s}")
    for label, r in rows.items():
        print(f"{label:48s} {r['median_s']:9.3f} {r['min_s']:7.3f} {r['cpu_median_s']:7.3f}")
    if args.json:
        args.json.write_text(json.dumps({"clip": str(args.clip), "seconds": seconds, "threads": args.threads,
                                         "device": tagger.device, "load_s": load_s, "loadavg_end": load_end,
                                         "cpu": _cpu_name(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
