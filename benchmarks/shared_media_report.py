"""Analyse every clip in ../shared/media; write the top-3 labels table and a nearest-neighbour check.

    .venv/bin/python benchmarks/shared_media_report.py [--out reports/shared_media]

Outputs ``<out>.md`` (a Markdown table of the top three themes, emotions and styles of each clip,
and the leave-one-out accuracy table) and ``<out>.json`` (per-clip results without embeddings).

Leave-one-out nearest neighbour: each audio clip is labelled with a coarse category from its
``labels`` in catalog.csv (rules in ``COARSE_RULES``, first match wins); a clip counts as correct
when its nearest other clip by cosine has the same category. Compared: the item ``embedding``
computed with no text (the file names would leak the labels), the same without its music
block (musicnn), its audio block alone, its music block alone, and a baseline of standardised
13-d MFCC means.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.analysis.analyzer import AnalysisConfig, Analyzer, ClipMetadata  # noqa: E402
from recsys.analysis.item_vector import BLOCK_WEIGHTS, item_vector  # noqa: E402
from recsys.errors import RecsysError  # noqa: E402
from recsys.paths import SHARED_MEDIA_DIR  # noqa: E402

COARSE_RULES = [  # (category, keywords in the `labels` column)
    ("speech", ("speech",)),
    ("singing voice", ("sing", "vocal", "soprano")),
    ("nature", ("environment", "nature")),
    ("percussion & keyboard", ("percussion", "keyboard")),
    ("strings & orchestra", ("strings", "orchestra", "classical")),
    ("wind & brass", ("woodwind", "brass", "saxophone", "trumpet")),
    ("band & song", ("",)),
]


def coarse_category(labels: str) -> str:
    low = labels.lower()
    return next(cat for cat, keys in COARSE_RULES if any(k in low for k in keys))


def loo_accuracy(X: np.ndarray, y: list[str]) -> float:
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    sim = Xn @ Xn.T
    np.fill_diagonal(sim, -np.inf)
    nn = sim.argmax(axis=1)
    return float(np.mean([y[i] == y[j] for i, j in enumerate(nn)]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=SHARED_MEDIA_DIR)
    ap.add_argument("--out", type=Path, default=Path("reports/shared_media"))
    args = ap.parse_args()
    catalog = pd.read_csv(args.media / "catalog.csv")
    # No file-name titles: the table shows what the models infer from sound and picture alone.
    analyzer = Analyzer(AnalysisConfig(use_filename_title=False, transcribe="auto"))
    t0 = time.perf_counter()
    analyzer.encoders()
    print(f"models loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows, records = [], []
    audio_vecs, no_music, audio_only, music_only, mfcc, cats = [], [], [], [], [], []
    for r in catalog.itertuples():
        try:
            a = analyzer.analyze(args.media / r.path, metadata=ClipMetadata())
        except RecsysError as err:
            rows.append(f"| {r.path} | {r.kind} | error: {err} | | |")
            continue
        u = a.understanding
        fmt = lambda xs: ", ".join(f"{s.label} {s.score:.2f}" for s in xs[:3])  # noqa: E731
        rows.append(f"| {Path(r.path).name[:38]} | {r.kind} | {fmt(u.themes)} | {fmt(u.emotions)} | {fmt(u.styles)} |")
        d = a.to_dict(include_embedding=False)
        d["labels"] = r.labels
        records.append(d)
        print(f"{r.path}: {a.timings_ms['total']:.0f} ms", file=sys.stderr)
        if r.kind == "audio":
            cats.append(coarse_category(r.labels))
            audio_vecs.append(a.embedding)
            no_music.append(item_vector(a.blocks, {**BLOCK_WEIGHTS, "music": 0.0}))
            audio_only.append(item_vector(a.blocks, {**{k: 0.0 for k in BLOCK_WEIGHTS}, "audio": 1.0}))
            music_only.append(item_vector(a.blocks, {**{k: 0.0 for k in BLOCK_WEIGHTS}, "music": 1.0}))
            mfcc.append(np.asarray(a.audio.mfcc_mean))
    M = np.asarray(mfcc)
    M = (M - M.mean(0)) / np.maximum(M.std(0), 1e-9)
    acc = {"embedding (no text)": loo_accuracy(np.asarray(audio_vecs), cats),
           "embedding without the music block": loo_accuracy(np.asarray(no_music), cats),
           "audio block only (YAMNet)": loo_accuracy(np.asarray(audio_only), cats),
           "music block only (musicnn MSD; zero for clips without music)": loo_accuracy(np.asarray(music_only), cats),
           "baseline: MFCC means (standardised)": loo_accuracy(M, cats)}
    groups = pd.Series(cats).value_counts().to_dict()
    majority = max(groups.values()) / len(cats)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    md = ["# Shared media: top three labels per clip (no text input)", "",
          "| clip | kind | themes | emotions | styles |", "|---|---|---|---|---|", *rows, "",
          f"## Leave-one-out nearest neighbour on {len(cats)} audio clips", "",
          "Coarse categories (first matching keyword rule on `labels`): "
          + "; ".join(f"{k} ({v})" for k, v in groups.items()) + f". Majority-class rate {majority:.2f}.", "",
          "| representation | accuracy |", "|---|---|", *[f"| {k} | {v:.3f} |" for k, v in acc.items()]]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"clips": records, "loo_accuracy": acc,
                                                         "groups": groups}, indent=1))
    print("\n".join(md[-(len(acc) + 2):]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
