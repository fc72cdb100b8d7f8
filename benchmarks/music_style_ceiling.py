"""How far can the music style go with the evidence the project has? Upper bounds on the labelled
understanding benchmark's music clips, whatever the display threshold and fusion.

    .venv/bin/python benchmarks/music_style_ceiling.py [--patches 1|3|all] [--out reports/music_style_ceiling.md]

Issues #13 and #14 ask for a top-1 music style that a person accepts on >= 80-85 % of music
clips (abstaining counts as not accepted). This script measures what bounds that figure, on the
clips of ``benchmarks/understanding_labels.csv`` whose kind is ``music`` (both splits):

1. **The pipeline's best music style if always shown** (no threshold): acceptable / plainly wrong.
2. **Evidence recall**: the share of clips for which an acceptable style is among the top 3 of
   any one source (YAMNet's genre shares, the MSD tagger, the MTT tagger). No fusion of these
   sources can pick an acceptable style for the other clips.
3. **A learned head on the same evidence** (one-vs-rest logistic regression over YAMNet's genre
   shares and the two taggers' 100 tag probabilities), leave-one-out over every music clip: the
   most a supervised fusion of this evidence reaches here, and which labels it predicts (a head
   that learns the benchmark's composition predicts "game_music" for everything, which would be
   wrong for any upload that is not a game soundtrack); and the same head when it may not answer
   ``game_music``.
4. **What the labels ask for**: the share of music clips whose acceptable styles include
   ``game_music``, a label of where the music comes from rather than of how it sounds.

``--patches`` re-tags the clips with the music tagger on that many 3 s patches (default: the
analysis' own setting, ``AnalysisConfig.music_patches``); tags are cached beside the benchmark's
Signals cache.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

import benchmarks.understanding as ub
from recsys.understanding import label_scoring as ls
from recsys.understanding import music_genre


def retag(rows: list[dict], sigs: dict, patches: str) -> None:
    """Replace the clips' tagger evidence with tags over ``patches`` patches (cached)."""
    from recsys.analysis.analyzer import music_tag_probs
    from recsys.encoders.musicnn import MSD_TAGS, MTT_TAGS, get_music_tagger
    from recsys.media.decode import decode

    for r in rows:
        s, _ = sigs[ub.key(r)]
        if not s.extra_probs:
            continue  # the tagger's gate (YAMNet "Music") kept it off this clip
        path = ub.clip_path(r)
        file = ub._cache_file(path).with_name(f"{ub._sha1(path)}-musicnn-p{patches}.npz")
        if not file.exists():
            tags = get_music_tagger("cpu").tag(decode(path).audio,
                                               max_patches=None if patches == "all" else int(patches))
            np.savez_compressed(file, **{name: p for name, (_, p) in music_tag_probs(tags).items()})
        with np.load(file, allow_pickle=False) as z:
            s.extra_probs = {"musicnn_msd": (list(MSD_TAGS), z["musicnn_msd"]),
                             "musicnn_mtt": (list(MTT_TAGS), z["musicnn_mtt"])}


def source_views(s: ls.Signals, space, styles: list[str]) -> dict[str, np.ndarray]:
    """Each source's own genre view over ``styles``, as the fusion sees it (zeros: no evidence)."""
    labels = [lab.name for lab in space.labels["styles"]]
    cols = np.array([labels.index(x) for x in styles])
    ap = ls._audio_probs(s)
    amap = space.maps["audioset"]
    views = {"audioset": music_genre.audioset_distribution(ap, amap.class_names, amap.weights["styles"], cols)[0]}
    for name, (class_names, probs) in (s.extra_probs or {}).items():
        e, _ = space.classifier_map(name, class_names).evidence(np.asarray(probs, np.float32), "styles")
        views[name] = music_genre.normalised(e[cols])
    return views


def features(s: ls.Signals, space) -> np.ndarray:
    """(61 + 50 + 50,) YAMNet's genre-class shares and the two taggers' tag probabilities."""
    genre = music_genre.audioset_genre_classes()
    idx = [i for i, n in enumerate(space.audio_names) if n in genre]
    g = ls._audio_probs(s)[idx]
    g = g / max(float(g.sum()), 1e-6)
    tags = [np.asarray((s.extra_probs or {}).get(name, (None, np.zeros(50)))[1], np.float64)
            for name in ("musicnn_msd", "musicnn_mtt")]
    return np.concatenate([g, *tags])


def loo_head(x: np.ndarray, judged: list[dict], styles: list[str], c: float = 10.0) -> list[str]:
    """Leave-one-out top-1 of a one-vs-rest logistic regression per style (trained on the others)."""
    from sklearn.linear_model import LogisticRegression

    out = []
    for i in range(len(x)):
        train = [j for j in range(len(x)) if j != i]
        scores = []
        for st in styles:
            y = np.array([st in judged[j]["ok"] for j in train], int)
            if y.min() == y.max():
                scores.append(float(y[0]) - 1.0)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = LogisticRegression(C=c, max_iter=2000).fit(x[train], y)
            scores.append(float(model.predict_proba(x[i:i + 1])[0, 1]))
        out.append(styles[int(np.argmax(scores))])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patches", default=None, help="music tagger patches: a number or 'all'")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    rows = [r for r in ub.load_labels() if r["kind"] == "music"]
    sigs = ub.analysed_signals(rows, log=lambda m: print(m, file=sys.stderr))
    rows = [r for r in rows if ub.key(r) in sigs]
    if args.patches:
        retag(rows, sigs, args.patches)
    space = ub.get_space()
    styles = sorted(ls.MUSIC_STYLES)
    judged = [r["styles"] for r in rows]
    n = len(rows)
    pct = lambda a: f"{100 * a / n:.0f}% ({a}/{n})"  # noqa: E731

    best = []
    for r in rows:
        u = ls.understand(sigs[ub.key(r)][0], space)
        best.append(next((x.label for x in u.all_scores["styles"] if x.label in ls.MUSIC_STYLES), None))
    recall = {}
    for r in rows:
        for name, v in source_views(sigs[ub.key(r)][0], space, styles).items():
            top = {styles[j] for j in np.argsort(-v)[:3] if v[j] > 0}
            recall.setdefault(name, []).append(bool(top & r["styles"]["ok"]))
    any_source = [any(recall[name][i] for name in recall) for i in range(n)]
    x = np.stack([features(sigs[ub.key(r)][0], space) for r in rows])
    head = loo_head(x, judged, styles)
    # the same head when it may not answer "game_music": what the sound itself supports
    head_sound = loo_head(x, judged, [st for st in styles if st != "game_music"])

    lines = [f"## Music style ceiling ({n} music clips, both splits; tagger patches: "
             f"{args.patches or 'the analysis default'})", "",
             "| bound | acceptable | plainly wrong |", "|---|---:|---:|",
             f"| pipeline's best music style, always shown | {pct(sum(b in j['ok'] for b, j in zip(best, judged)))} "
             f"| {pct(sum(b in j['wrong'] for b, j in zip(best, judged)))} |",
             f"| learned head on the same evidence, leave-one-out | {pct(sum(h in j['ok'] for h, j in zip(head, judged)))} "
             f"| {pct(sum(h in j['wrong'] for h, j in zip(head, judged)))} |",
             f"| the same head without `game_music`, leave-one-out | "
             f"{pct(sum(h in j['ok'] for h, j in zip(head_sound, judged)))} "
             f"| {pct(sum(h in j['wrong'] for h, j in zip(head_sound, judged)))} |", "",
             "Evidence recall (an acceptable style in a source's top 3):", ""]
    lines += [f"- {name}: {pct(sum(v))}" for name, v in recall.items()]
    lines += [f"- any source: {pct(sum(any_source))}", "",
              f"The learned head's predictions: {dict(Counter(head).most_common())}", "",
              f"Music clips with `game_music` among their acceptable styles: "
              f"{pct(sum('game_music' in j['ok'] for j in judged))}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
