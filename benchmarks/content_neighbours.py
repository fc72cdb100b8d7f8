"""Do content neighbours look and sound alike? Top-5 neighbour agreement on the labelled clips.

    .venv/bin/python benchmarks/content_neighbours.py [--k 5] [--tune]

For every clip of the embedded sample catalog that the understanding benchmark labels
(``benchmarks/understanding_labels.csv``, which lists every sample clip with the themes and
styles a person accepts), the share of its ``k`` nearest catalog neighbours (cosine on the item
vector, the clip itself left out) that share at least one acceptable theme or style with it.
Reported for the item vector as the catalog builds it (``BLOCK_WEIGHTS``), without the music
block, without the text block (title and description: the labels' own source, so they flatter
the figure), and, with ``--tune``, for block weights chosen per kind (audio, video) on the
benchmark's tuning split and reported on its test split.
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np

from benchmarks.understanding import load_labels
from recsys.analysis.item_vector import BLOCK_NAMES, BLOCK_WEIGHTS, l2_normalise
from recsys.catalog.catalog import load_or_build_sample_catalog


def weighted(blocks: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """(n, D) item vectors from per-block matrices under ``weights`` (as ``item_vector``)."""
    return l2_normalise(np.hstack([np.sqrt(max(weights.get(b, 0.0), 0.0)) * blocks[b] for b in BLOCK_NAMES]))


def agreement(X: np.ndarray, accepted: list[set[str]], rows: list[int], k: int) -> float:
    """Mean over ``rows`` of the share of their top-k neighbours (among all rows of X) that
    share an accepted label."""
    sims = X @ X.T
    np.fill_diagonal(sims, -np.inf)
    shares = []
    for r in rows:
        nn = np.argsort(-sims[r])[:k]
        shares.append(np.mean([bool(accepted[r] & accepted[j]) for j in nn]))
    return float(np.mean(shares)) if shares else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--tune", action="store_true", help="choose block weights per kind on the tuning split")
    args = ap.parse_args()
    cat = load_or_build_sample_catalog()
    labels = {r["path"]: r for r in load_labels() if r["root"] == "sample_data"}
    accepted, split, kinds = [], [], list(cat.items["kind"])
    for path in cat.items["path"]:
        r = labels.get(path)
        accepted.append(set() if r is None else {f"t:{x}" for x in r["themes"]["ok"]} | {f"s:{x}" for x in r["styles"]["ok"]})
        split.append(None if r is None else r["split"])
    rows = {part: [i for i, s in enumerate(split) if s == part] for part in ("tuning", "test")}
    variants = {"catalog item vector (BLOCK_WEIGHTS)": dict(BLOCK_WEIGHTS),
                "without the music block": {**BLOCK_WEIGHTS, "music": 0.0},
                "without the text block": {**BLOCK_WEIGHTS, "text": 0.0},
                "without text and music": {**BLOCK_WEIGHTS, "text": 0.0, "music": 0.0}}
    print(f"| item vector | tuning ({len(rows['tuning'])} clips) | test ({len(rows['test'])} clips) |")
    print("|---|---|---|")
    for name, w in variants.items():
        X = weighted(cat.blocks, w)
        print(f"| {name} | {agreement(X, accepted, rows['tuning'], args.k):.2f} | "
              f"{agreement(X, accepted, rows['test'], args.k):.2f} |")
    if args.tune:
        grid = (0.0, 0.5, 1.0, 2.0)
        best = {}
        for kind in ("audio", "video"):
            sel = [i for i in rows["tuning"] if kinds[i] == kind]
            scored = []
            for vals in itertools.product(grid, repeat=4):  # visual, audio, music, semantic+tags
                w = {"visual": vals[0], "audio": vals[1], "music": vals[2], "semantic": vals[3], "tags": vals[3],
                     "text": BLOCK_WEIGHTS["text"]}
                if not any(vals):
                    continue
                scored.append((agreement(weighted(cat.blocks, w), accepted, sel, args.k), w))
            best[kind] = max(scored, key=lambda x: x[0])[1]
        for kind, w in best.items():
            X = weighted(cat.blocks, w)
            test = [i for i in rows["test"] if kinds[i] == kind]
            tune = [i for i in rows["tuning"] if kinds[i] == kind]
            print(f"| tuned for {kind} {w} | {agreement(X, accepted, tune, args.k):.2f} ({kind}) | "
                  f"{agreement(X, accepted, test, args.k):.2f} ({kind}) |")


if __name__ == "__main__":
    main()
