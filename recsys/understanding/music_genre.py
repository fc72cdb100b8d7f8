"""The music style of a clip that has music: one distribution over the music styles, mixed from
each classifier's own view of the genre.

Why not the noisy-OR that the other labels use: genre evidence is *relative*. YAMNet's genre and
music-role classes (AudioSet's "Music genre" and "Music role" subtrees) score low in absolute terms
(a game soundtrack gets "Video game music" 0.02-0.3, rarely more) because few AudioSet clips carry
a genre label, but their shares of the clip's genre mass rank the genres well. The two music
taggers have their own blind spots (the MSD tagger has no "classical", "world" or "game" tag).
So each source gives a distribution over the music styles (its mapped evidence, normalised to sum
1), and the clip's genre is their weighted mixture::

    p(style | music) = sum_s w_s * d_s(style) / sum_s w_s      (sources s with any evidence)

The mixture's value for a style is its raw evidence (before the music gate and calibration): a
clip whose sources agree on one genre gets a high value; one they spread over five genres, a low
one. ``SOURCE_WEIGHT`` was chosen on the understanding benchmark's tuning split
(``benchmarks/understanding.py``): the top-1 music style of the tuning music clips was acceptable
for 18 of 26 and plainly wrong for 3, against 13 and 6 with the per-class noisy-OR.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

from recsys.paths import ASSETS_DIR

GENRE_CLASSES_FILE = ASSETS_DIR / "label_maps" / "audioset_music_genre_classes.csv"
# Relative weight of each source's genre distribution (tuning split, see the module docstring).
SOURCE_WEIGHT = {"audioset": 2.0, "musicnn_msd": 0.5, "musicnn_mtt": 0.5}
# Below this summed probability over the genre classes, YAMNet heard no genre: its shares would be
# noise, so it does not vote.
AUDIOSET_MIN_GENRE_MASS = 0.05


@lru_cache(maxsize=None)
def audioset_genre_classes(path: Path = GENRE_CLASSES_FILE) -> frozenset[str]:
    """Names of YAMNet's classes under AudioSet's "Music genre" and "Music role" subtrees
    (written by ``scripts/make_label_maps.py`` from the ontology)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return frozenset(r["class"] for r in csv.DictReader(fh))


def audioset_distribution(probs: np.ndarray, class_names: list[str], weights: np.ndarray,
                          style_columns: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """YAMNet's genre view: ((n_styles,) distribution or zeros, per style the best class as text).

    probs : (n_classes,) AudioSet evidence of the clip; weights : (n_classes, n_labels) the
    audioset map's style weights; style_columns : (n_styles,) the music styles' columns in it."""
    genre = audioset_genre_classes()
    idx = np.array([i for i, n in enumerate(class_names) if n in genre], int)
    n_styles = len(style_columns)
    if idx.size == 0:
        return np.zeros(n_styles, np.float32), [""] * n_styles
    p = np.asarray(probs, np.float64)[idx]
    mass = p.sum()
    if mass < AUDIOSET_MIN_GENRE_MASS:
        return np.zeros(n_styles, np.float32), [""] * n_styles
    contrib = (p / mass)[:, None] * weights[idx][:, style_columns]   # (n_genre_classes, n_styles)
    dist = contrib.sum(axis=0)
    total = dist.sum()
    if total <= 0:
        return np.zeros(n_styles, np.float32), [""] * n_styles
    best = contrib.argmax(axis=0)
    names = [f"AudioSet: {class_names[idx[b]]} {float(probs[idx[b]]):.2f}" if contrib[b, j] > 0 else ""
             for j, b in enumerate(best)]
    return (dist / total).astype(np.float32), names


def normalised(evidence: np.ndarray) -> np.ndarray:
    """A tagger's mapped evidence over the music styles as a distribution (zeros if none)."""
    e = np.asarray(evidence, np.float64)
    total = e.sum()
    return (e / total).astype(np.float32) if total > 0 else np.zeros_like(e, np.float32)


def mixture(distributions: dict[str, np.ndarray]) -> np.ndarray:
    """(n_styles,) weighted mean of the sources' distributions that hold any evidence."""
    total, weight = None, 0.0
    for name, d in distributions.items():
        if d.sum() <= 0:
            continue
        w = SOURCE_WEIGHT.get(name, 0.5)
        total = w * d if total is None else total + w * d
        weight += w
    if total is None:
        return np.zeros(len(next(iter(distributions.values()))) if distributions else 0, np.float32)
    return (total / weight).astype(np.float32)
