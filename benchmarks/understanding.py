"""Labelled understanding benchmark: do the shown themes, emotions and styles agree with a person?

    .venv/bin/python benchmarks/understanding.py [--split tuning|test|all]
        [--fit] [--out reports/understanding.md] [--worst 10] [--without-tagger]

Clips: every clip of ``sample_data/`` and ``../shared/media/`` and the extra real clips in
``benchmarks/understanding_clips/``, listed in ``benchmarks/understanding_labels.csv`` with, per
facet, the labels a person would accept (``*_ok``), would not mind (``*_maybe``) and would call
plainly wrong (``*_wrong``; ``*`` = every label of the facet not in ok or maybe), the clip's kind
(music, speech, sfx, oneshot, video, control), its split (tuning | test, fixed once, stratified by
kind) and where the judgement comes from. Clips are analysed as an upload is (``analyze PATH``):
the title is the file name, no description, so the labels' source text does not leak in.

Analysis is slow (encoders), scoring is fast: the encoder outputs (:class:`Signals`) of each clip
are cached once in ``.cache/understanding_bench/<sha1 of the file>.npz``, and every run re-scores
them with the current ``recsys.understanding.label_scoring``. ``--fit`` fits the per-facet calibration on the
tuning split and writes ``assets/label_maps/calibration.json`` (see ``fit_calibration``).

Reported per facet and kind: top-1 acceptable (share of clips with a non-empty ok list whose shown
top-1 is ok), plainly wrong top-1 and in the top 3 (share of all clips), abstention (share with
nothing shown), the share of the most common top-1 emotion (among clips showing one), and a
reliability table of every shown score (0.1-wide bins, accepted share, ECE).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from recsys.media.audio_descriptors import AudioDescriptors  # noqa: E402
from recsys.media.visual_descriptors import VisualDescriptors  # noqa: E402
from recsys.paths import REPO_ROOT, SAMPLE_DATA_DIR, SHARED_MEDIA_DIR, cache_dir  # noqa: E402
from recsys.understanding.label_scoring import (  # noqa: E402
    FACETS,
    Signals,
    load_vocabulary,
    understand,
)

LABELS_CSV = Path(__file__).resolve().parent / "understanding_labels.csv"
ROOTS = {"sample_data": SAMPLE_DATA_DIR, "shared_media": SHARED_MEDIA_DIR,
         "bench_clips": Path(__file__).resolve().parent / "understanding_clips"}
KINDS = ("music", "speech", "sfx", "oneshot", "video", "control")
CACHE_VERSION = "1"  # bump when the analysis (encoders, descriptors) changes what Signals hold


# --- labels -------------------------------------------------------------------------------------

def load_labels(path: Path = LABELS_CSV) -> list[dict]:
    """Rows of the label file with ``ok``/``maybe``/``wrong`` expanded to sets per facet."""
    rows, dropped = [], set()
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            for facet in FACETS:
                names = {lab.name for lab in load_vocabulary(facet)}
                ok = _split(r[f"{facet}_ok"])
                maybe = _split(r[f"{facet}_maybe"])
                wrong = (names - ok - maybe) if r[f"{facet}_wrong"].strip() == "*" else _split(r[f"{facet}_wrong"])
                unknown = (ok | maybe | wrong) - names
                if unknown:  # only when scoring with an older vocabulary (the "before" table)
                    dropped.update(f"{facet}:{x}" for x in unknown)
                r[facet] = {"ok": ok & names, "maybe": maybe & names, "wrong": (wrong - ok) & names}
            rows.append(r)
    if dropped:
        print(f"labels not in the vocabulary, ignored: {sorted(dropped)}", file=sys.stderr)
    return rows


def _split(cell: str) -> set[str]:
    return {x.strip() for x in (cell or "").split(";") if x.strip()}


# --- cached analysis ----------------------------------------------------------------------------

def clip_path(row: dict) -> Path:
    return ROOTS[row["root"]] / row["path"]


def _sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _cache_file(path: Path) -> Path:
    folder = cache_dir() / "understanding_bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_sha1(path)}-v{CACHE_VERSION}.npz"


def save_signals(file: Path, s: Signals, extra: dict) -> None:
    arrays = {k: getattr(s, k) for k in ("image_probs", "audio_scores", "audio_peak", "text_vec", "transcript_vec")
              if getattr(s, k) is not None}
    meta = {"text_sentiment": s.text_sentiment, "speech_fraction": s.speech_fraction, "duration_s": s.duration_s,
            "audio": s.audio.to_dict() if s.audio else None,
            "visual": asdict(s.visual) if s.visual else None, **extra}
    np.savez_compressed(file, meta=np.array(json.dumps(meta)), **arrays)


def load_signals(file: Path) -> tuple[Signals, dict]:
    # the transcriber's rule decides whether Signals.words is known
    from recsys.analysis.analyzer import AnalysisConfig

    z = np.load(file, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    audio = visual = None
    if meta["audio"]:
        a = dict(meta["audio"])
        for k in ("mfcc_mean", "mfcc_std", "chroma_mean"):
            a[k] = tuple(a[k])
        audio = AudioDescriptors(**a)
    if meta["visual"]:
        v = dict(meta["visual"])
        v["dominant_colours"] = tuple(tuple(x) for x in v["dominant_colours"])
        visual = VisualDescriptors(**v)
    extra = {"duration_s": meta["duration_s"]} if "duration_s" in Signals.__dataclass_fields__ else {}
    if "words" in Signals.__dataclass_fields__ and AnalysisConfig().wants_transcript(meta["speech_fraction"]):
        extra["words"] = len((meta.get("transcript") or "").split())
    s = Signals(**{k: z[k] for k in ("image_probs", "audio_scores", "audio_peak", "text_vec", "transcript_vec")
                   if k in z.files},
                text_sentiment=meta["text_sentiment"], audio=audio, visual=visual,
                speech_fraction=meta["speech_fraction"], **extra)
    return s, meta


def analysed_signals(rows: list[dict], *, log=print) -> dict[str, tuple[Signals, dict]]:
    """``{row path key: (Signals, meta)}``, analysing (and caching) the clips not cached yet."""
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer
    from recsys.errors import RecsysError

    analyzer = None
    out = {}
    for r in rows:
        path = clip_path(r)
        if not path.exists():
            log(f"missing: {path} (skipped)")
            continue
        file = _cache_file(path)
        if not file.exists():
            analyzer = analyzer or Analyzer(AnalysisConfig(device="cpu"))
            t0 = time.perf_counter()
            try:
                a = analyzer.analyze(path)
            except RecsysError as err:  # the app refuses such a clip too; it is not scored
                log(f"refused: {r['root']}/{r['path']}: {err}")
                continue
            log(f"analysed {r['root']}/{r['path']} in {time.perf_counter() - t0:.1f} s")
            save_signals(file, a.signals, {"kind": a.kind, "timings_ms": a.timings_ms, "top_audio": a.top_audio,
                                           "top_image": a.top_image, "transcript": a.transcript})
        out[key(r)] = load_signals(file)
        _add_music_tags(path, out[key(r)][0])
    return out


def _add_music_tags(path: Path, s: Signals) -> None:
    """Put the music tagger's evidence in ``s.extra_probs`` as the analysis does (same gate, same
    patch budget), from a cache of its own so older Signals caches stay valid."""
    from recsys.analysis.analyzer import AnalysisConfig, music_tag_probs
    from recsys.encoders.audio import get_audio_encoder

    cfg = AnalysisConfig()
    names = get_audio_encoder("cpu").class_names
    if s.audio_peak is None or float(s.audio_peak[names.index("Music")]) < cfg.music_threshold:
        return
    file = _cache_file(path).with_name(f"{_sha1(path)}-musicnn-p{cfg.music_patches}.npz")
    if not file.exists():
        from recsys.encoders.musicnn import get_music_tagger
        from recsys.media.decode import decode

        tags = get_music_tagger("cpu").tag(decode(path).audio, max_patches=cfg.music_patches)
        probs = music_tag_probs(tags)
        np.savez_compressed(file, **{name: p for name, (_, p) in probs.items()})
    from recsys.encoders.musicnn import MSD_TAGS, MTT_TAGS

    with np.load(file, allow_pickle=False) as z:
        s.extra_probs = {"musicnn_msd": (list(MSD_TAGS), z["musicnn_msd"]),
                         "musicnn_mtt": (list(MTT_TAGS), z["musicnn_mtt"])}


def key(row: dict) -> str:
    return f"{row['root']}/{row['path']}"


def get_space():
    """The real semantic space (MiniLM text encoder, ImageNet and AudioSet class names)."""
    from recsys.encoders.audio import get_audio_encoder
    from recsys.encoders.image import _imagenet_class_names
    from recsys.encoders.text import get_text_encoder
    from recsys.understanding.label_scoring import get_semantic_space

    return get_semantic_space(get_text_encoder("cpu"), _imagenet_class_names(), get_audio_encoder("cpu").class_names)


# --- scoring ------------------------------------------------------------------------------------

def shown(u, facet: str) -> list:
    """The labels the user sees for ``facet``: those listed with a score above zero."""
    return [s for s in u.facet(facet) if s.score > 0]


def evaluate(rows: list[dict], results: dict) -> dict:
    """Per facet and kind: counts behind the rates. ``results``: key -> Understanding."""
    stats: dict = {}
    for facet in FACETS:
        for kind in ("all",) + KINDS:
            sel = [r for r in rows if key(r) in results and (kind == "all" or r["kind"] == kind)]
            if not sel:
                continue
            n_ok_defined = ok1 = wrong1 = wrong3 = abstain = 0
            tops = Counter()
            for r in sel:
                labels = r[facet]
                lst = shown(results[key(r)], facet)
                top1 = lst[0].label if lst else None
                if not lst:
                    abstain += 1
                else:
                    tops[top1] += 1
                if labels["ok"]:
                    n_ok_defined += 1
                    ok1 += top1 in labels["ok"]
                wrong1 += top1 in labels["wrong"]
                wrong3 += any(s.label in labels["wrong"] for s in lst[:3])
            stats[(facet, kind)] = {
                "n": len(sel), "n_ok": n_ok_defined, "ok1": ok1, "wrong1": wrong1, "wrong3": wrong3,
                "abstain": abstain, "top_label": tops.most_common(1)[0] if tops else ("-", 0),
                "n_shown": sum(tops.values())}
    return stats


def reliability(rows: list[dict], results: dict, facets=FACETS, top_k: int = 3):
    """(bins, ece): per 0.1 bin of shown score, (n, mean score, accepted share) over the top-k shown."""
    scores, hits = [], []
    for r in rows:
        if key(r) not in results:
            continue
        for facet in facets:
            for s in shown(results[key(r)], facet)[:top_k]:
                scores.append(s.score)
                hits.append(s.label in r[facet]["ok"])
    scores, hits = np.asarray(scores), np.asarray(hits, float)
    bins = []
    ece = 0.0
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        m = (scores >= lo) & ((scores < hi) if b < 9 else (scores <= hi))
        if m.any():
            bins.append((lo, hi, int(m.sum()), float(scores[m].mean()), float(hits[m].mean())))
            ece += m.sum() / len(scores) * abs(scores[m].mean() - hits[m].mean())
    return bins, float(ece), len(scores)


def coverage(rows: list[dict], results: dict) -> list[str]:
    """The issue's coverage bars: music tracks showing a style, scene videos showing a theme."""
    from recsys.understanding.label_scoring import SCENE_THEMES

    def share(sel, facet):
        n = sum(bool(shown(results[key(r)], facet)) for r in sel)
        return f"{100 * n / len(sel):.0f}% ({n}/{len(sel)})" if sel else "-"

    music = [r for r in rows if key(r) in results and r["kind"] == "music"]
    scenes = [r for r in rows if key(r) in results and r["kind"] == "video" and r["themes"]["ok"] & SCENE_THEMES]
    # The evidence's ceiling, whatever the threshold: the best music style of every music clip.
    from recsys.understanding.label_scoring import MUSIC_STYLES

    best = [next((x.label for x in results[key(r)].all_scores["styles"] if x.label in MUSIC_STYLES), None)
            for r in music]
    ok = sum(b in r["styles"]["ok"] for b, r in zip(best, music))
    wrong = sum(b in r["styles"]["wrong"] for b, r in zip(best, music))
    n = max(len(music), 1)
    return [f"music clips showing a style: {share(music, 'styles')} (bar: 90%)",
            f"music clips' best music style if always shown: acceptable {100 * ok / n:.0f}% ({ok}/{len(music)}), "
            f"plainly wrong {100 * wrong / n:.0f}% ({wrong}/{len(music)})",
            f"videos of landscapes and scenes (an acceptable theme in {sorted(SCENE_THEMES)}) showing a theme: "
            f"{share(scenes, 'themes')} (bar: 70%)"]


def markdown(rows, results, title: str) -> str:
    st = evaluate(rows, results)
    out = [f"### {title}", "",
           "| facet | kind | clips | top-1 acceptable | top-1 plainly wrong | top-3 plainly wrong | abstain | most common top-1 |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    pct = lambda a, b: f"{100 * a / b:.0f}% ({a}/{b})" if b else "-"  # noqa: E731
    for facet in FACETS:
        for kind in ("all",) + KINDS:
            s = st.get((facet, kind))
            if not s:
                continue
            lab, cnt = s["top_label"]
            out.append(f"| {facet} | {kind} | {s['n']} | {pct(s['ok1'], s['n_ok'])} | {pct(s['wrong1'], s['n'])} "
                       f"| {pct(s['wrong3'], s['n'])} | {pct(s['abstain'], s['n'])} "
                       f"| {lab} {100 * cnt / max(s['n_shown'], 1):.0f}% of shown |")
    out += ["", "Coverage (abstaining is not free):", ""] + [f"- {line}" for line in coverage(rows, results)]
    out += ["", "Reliability of shown scores (top 3 per facet, all facets):", "",
            "| bin | labels | mean score | accepted |", "|---|---:|---:|---:|"]
    bins, ece, n = reliability(rows, results)
    for lo, hi, cnt, ms, acc in bins:
        out.append(f"| {lo:.1f}-{hi:.1f} | {cnt} | {ms:.2f} | {acc:.2f} |")
    out.append(f"\nECE {ece:.3f} over {n} shown labels.\n")
    return "\n".join(out)


def worst(rows, results, n: int = 10) -> list[str]:
    """The highest-scored shown top-1 labels that are plainly wrong, with their evidence."""
    bad = []
    for r in rows:
        u = results.get(key(r))
        if u is None:
            continue
        for facet in FACETS:
            lst = shown(u, facet)
            if lst and lst[0].label in r[facet]["wrong"]:
                bad.append((lst[0].score, f"{key(r)} [{r['kind']}] {facet}: **{lst[0].label}** {lst[0].score:.2f} "
                                          f"({'; '.join(lst[0].evidence)})"))
    return [b for _, b in sorted(bad, key=lambda x: -x[0])[:n]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("tuning", "test", "all", "both"), default="both")
    ap.add_argument("--fit", action="store_true", help="fit the calibration on the tuning split, then report")
    ap.add_argument("--out", type=Path, help="also write the Markdown here (e.g. reports/understanding.md)")
    ap.add_argument("--worst", type=int, default=10)
    ap.add_argument("--without-tagger", action="store_true",
                    help="score without the music tagger's evidence (the 'before' of issue #14)")
    args = ap.parse_args()

    rows = load_labels()
    sigs = analysed_signals(rows, log=lambda m: print(m, file=sys.stderr))
    if args.without_tagger:
        for s, _ in sigs.values():
            s.extra_probs = {k: v for k, v in (s.extra_probs or {}).items() if not k.startswith("musicnn")}
    space = get_space()
    if args.fit:
        from recsys.understanding.label_scoring import fit_calibration

        tuning = [r for r in rows if r["split"] == "tuning" and key(r) in sigs]
        path = fit_calibration([sigs[key(r)][0] for r in tuning], [{f: (r[f]["ok"], r[f]["wrong"]) for f in FACETS} for r in tuning],
                               space)
        print(f"calibration written to {path.relative_to(REPO_ROOT)}", file=sys.stderr)
    results, times = {}, []
    for k, (s, _) in sigs.items():
        t0 = time.perf_counter()
        results[k] = understand(s, space)
        times.append(time.perf_counter() - t0)
    parts = ["tuning", "test"] if args.split == "both" else [args.split]
    md = [f"## Understanding benchmark ({len(results)} clips; understand() {1000 * np.mean(times):.2f} ms per clip, "
          f"analysis {np.mean([m['timings_ms']['total'] for _, m in sigs.values()]):.0f} ms per clip when cached)", ""]
    for part in parts:
        sel = rows if part == "all" else [r for r in rows if r["split"] == part]
        md.append(markdown(sel, results, f"{part} split"))
    sel = rows if parts == ["all"] else [r for r in rows if r["split"] in parts]
    md += ["### Worst plainly wrong top-1 labels", ""] + [f"{i + 1}. {w}" for i, w in enumerate(worst(sel, results, args.worst))]
    text = "\n".join(md)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
