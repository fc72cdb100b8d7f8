"""The item vector: per-modality blocks, each L2-normalised, concatenated and normalised again.

Blocks (dimension):
  visual   (1280) mean EfficientNet-Lite0 pooled features over sampled frames
  audio    (1024) mean YAMNet embedding over 0.96 s patches
  music    (200)  musicnn MSD penultimate features (genre / mood space), clips with music only
  text     (384)  MiniLM of title + description + tags (+ transcript when there is speech)
  semantic (384)  fused ConSE vector from :mod:`recsys.understanding.label_scoring`
  tags     (n)    label scores over the themes/emotions/styles vocabularies, centred

A missing modality (no frames for audio, no sound for a silent video) is a zero block, so the
cosine between an audio clip and a video clip is carried by the blocks they share. Block weights
(``BLOCK_WEIGHTS``) scale each block before the final normalisation, so the cosine of two full
vectors is a weighted sum of per-block cosines.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.encoders.audio import EMBEDDING_DIM as AUDIO_DIM
from recsys.encoders.text import DIM as TEXT_DIM
from recsys.understanding.label_scoring import label_names

# The one list of block names, in the order they are concatenated; every other module imports it.
BLOCK_NAMES = ("visual", "audio", "music", "text", "semantic", "tags")
# Dimensions of the fixed-size blocks; "tags" has one entry per vocabulary label (label_names()).
# 1280 is recsys.encoders.image.FEATURE_DIM and 200 recsys.encoders.musicnn.PENULTIMATE_DIM, written
# out because importing those modules loads torch (tests/test_item_vector checks they agree).
BLOCK_DIMS = {"visual": 1280, "audio": AUDIO_DIM, "music": 200, "text": TEXT_DIM, "semantic": TEXT_DIM}
BLOCK_WEIGHTS = {"visual": 1.0, "audio": 1.0, "music": 0.8, "text": 0.8, "semantic": 1.0, "tags": 0.6}


def block_layout() -> dict[str, slice]:
    """Name -> slice of each block inside the full item vector."""
    dims = dict(BLOCK_DIMS, tags=len(label_names()))
    out, start = {}, 0
    for name, d in dims.items():
        out[name] = slice(start, start + d)
        start += d
    return out


def vector_dim() -> int:
    return max(s.stop for s in block_layout().values())


def l2_normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Divide by the L2 norm along ``axis``; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


@dataclass(frozen=True)
class ItemBlocks:
    """Per-modality vectors of one item, each (d,) float32, L2-normalised or all zeros."""

    visual: np.ndarray
    audio: np.ndarray
    music: np.ndarray
    text: np.ndarray
    semantic: np.ndarray
    tags: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in BLOCK_NAMES}


def make_blocks(*, visual: np.ndarray | None, audio: np.ndarray | None, text: np.ndarray | None,
                semantic: np.ndarray | None, label_scores: np.ndarray, music: np.ndarray | None = None
                ) -> ItemBlocks:
    """Build normalised blocks. ``label_scores`` (n_labels,) in [0, 1] is centred first: its
    mean is the same for every clip, and cosine on raw scores would call every pair similar."""
    layout = block_layout()

    def block(name, x):
        d = layout[name].stop - layout[name].start
        return np.zeros(d, np.float32) if x is None else l2_normalise(np.asarray(x, np.float32).reshape(d))

    tags = np.asarray(label_scores, np.float32)
    return ItemBlocks(visual=block("visual", visual), audio=block("audio", audio), music=block("music", music),
                      text=block("text", text), semantic=block("semantic", semantic),
                      tags=block("tags", tags - tags.mean()))


def item_vector(blocks: ItemBlocks, weights: dict[str, float] | None = None) -> np.ndarray:
    """(vector_dim(),) float32, L2-normalised concatenation of weighted blocks."""
    w = BLOCK_WEIGHTS if weights is None else weights
    parts = [np.sqrt(max(w.get(k, 0.0), 0.0)) * v for k, v in blocks.as_dict().items()]
    return l2_normalise(np.concatenate(parts))
