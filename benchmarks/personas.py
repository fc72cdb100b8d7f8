"""Do personas get what their profile says? Kind mix and label overlap of each persona's top-k.

    python benchmarks/personas.py [--k 10] [--catalog DIR] [--json]

For every persona in ``assets/personas.json``: the share of audio and video in its top-k under the
app's default weights, against its stated ``kind_preference``; the share of the top-k whose
labels (each item's top theme, emotion and style) include one the persona likes; whether its
seed items come back (they are excluded, as in the app). Uses the embedded sample catalog (built
on first use) unless ``--catalog`` names another.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from recsys.serving.ranker import DEFAULT_WEIGHTS
from recsys.serving.service import load_service
from recsys.understanding.label_key import LabelKey
from recsys.understanding.label_scoring import FACETS, label_names
from recsys.users.personas import load_personas


def best_label_per_facet(label_scores: np.ndarray, names: list[str]) -> set[str]:
    """The best label of each facet of one item (L,) -> {"facet:label", ...} (scores > 0 only)."""
    out = set()
    for facet in FACETS:
        cols = [j for j, n in enumerate(names) if LabelKey.parse(n).facet == facet]
        j = cols[int(np.argmax(label_scores[cols]))]
        if label_scores[j] > 0:
            out.add(names[j])
    return out


def persona_table(service, k: int = 10) -> list[dict]:
    cat, names = service.catalog, label_names()
    rows = []
    for p in load_personas():
        q = service.persona_query(p)
        recs = service.recommend(q, DEFAULT_WEIGHTS, k=k)
        kinds = [r.kind for r in recs]
        liked = set(p.liked_labels)
        overlap = [bool(best_label_per_facet(cat.label_scores[r.row], names) & liked) for r in recs]
        video_share = kinds.count("video") / max(len(kinds), 1)
        want_video = p.kind_preference.get("video", 0.0) / max(sum(p.kind_preference.values()), 1e-9)
        rows.append({"persona": p.name, "k": len(recs), "video_share": round(video_share, 2),
                     "video_wanted": round(want_video, 2),
                     "kind_gap_points": round(100 * abs(video_share - want_video), 1),
                     "label_overlap": round(float(np.mean(overlap)) if overlap else 0.0, 2),
                     "top3": [r.title for r in recs[:3]]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--catalog", help="a built catalog folder (default: the embedded sample)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = persona_table(load_service(catalog_dir=args.catalog), k=args.k)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"| persona | video share (wanted) | kind gap, points | label overlap@{args.k} | top 3 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['persona']} | {r['video_share']:.0%} ({r['video_wanted']:.0%}) | {r['kind_gap_points']:.0f} | "
              f"{r['label_overlap']:.0%} | {'; '.join(r['top3'])} |")


if __name__ == "__main__":
    main()
