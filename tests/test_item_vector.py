"""recsys.analysis.item_vector: block layout, dimensions, normalisation."""
from __future__ import annotations

import numpy as np

from recsys.analysis.item_vector import (
    BLOCK_DIMS,
    BLOCK_NAMES,
    block_layout,
    item_vector,
    make_blocks,
)
from recsys.understanding.label_scoring import label_names


def test_block_dims_agree_with_the_encoders():
    from recsys.encoders.audio import EMBEDDING_DIM
    from recsys.encoders.image import FEATURE_DIM
    from recsys.encoders.musicnn import PENULTIMATE_DIM
    from recsys.encoders.text import DIM

    assert BLOCK_DIMS == {"visual": FEATURE_DIM, "audio": EMBEDDING_DIM, "music": PENULTIMATE_DIM, "text": DIM,
                          "semantic": DIM}
    layout = block_layout()
    assert tuple(layout) == BLOCK_NAMES
    assert layout["tags"].stop - layout["tags"].start == len(label_names())


def test_missing_blocks_are_zero_and_the_vector_is_unit_length():
    rng = np.random.default_rng(0)
    blocks = make_blocks(visual=None, audio=rng.normal(size=BLOCK_DIMS["audio"]), text=None, semantic=None,
                         label_scores=rng.random(len(label_names())), music=rng.normal(size=BLOCK_DIMS["music"]))
    assert not blocks.visual.any() and not blocks.text.any()
    assert np.isclose(np.linalg.norm(blocks.music), 1.0) and np.isclose(np.linalg.norm(blocks.audio), 1.0)
    v = item_vector(blocks)
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert not v[block_layout()["visual"]].any()
