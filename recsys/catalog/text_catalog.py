"""A catalog of items known only by their text (title, genres, description): no media to decode.

The app's hybrid (`recsys.serving.hybrid.HybridRecommender`) ranks a :class:`Catalog`. A data set
such as MovieLens has no clips, but its items have titles and genres, which is honest content.
This module turns such items into a catalog whose ``text`` and ``semantic`` blocks are the
MiniLM embedding of each item's text (the semantic space of the media catalog is MiniLM's too),
whose ``tags`` block and label scores are empty (no themes, emotions or styles were inferred),
and whose visual, audio and music blocks are zeros. So ``python -m recsys evaluate`` and
``benchmarks/movielens.py`` can measure the app's own hybrid on MovieLens, beside every single model.

    cat = text_catalog(dataset.items, item_texts(dataset.items), get_text_encoder("cpu"))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.analysis.item_vector import ItemBlocks, item_vector, make_blocks
from recsys.catalog.catalog import Catalog
from recsys.understanding.label_scoring import label_names


def item_texts(items: pd.DataFrame) -> list[str]:
    """One text per item row: its title and genres (``"Toy Story. Animation, Children's, Comedy"``).

    ``items``: a data set's item table (``item_id``, optional ``title``, optional ``genres``
    lists, as `recsys.users.datasets` loads them)."""
    titles = items["title"].fillna("").astype(str) if "title" in items else pd.Series([""] * len(items))
    genres = items["genres"] if "genres" in items else pd.Series([[]] * len(items))
    out = []
    for iid, title, gs in zip(items["item_id"], titles, genres):
        words = ", ".join(str(g).replace("_", " ") for g in (gs if isinstance(gs, (list, tuple)) else []))
        text = ". ".join(x for x in (title.strip(), words) if x)
        out.append(text or f"item {iid}")
    return out


def text_catalog(items: pd.DataFrame, texts: list[str], text_encoder, *, kind: str = "video",
                 name: str = "text") -> Catalog:
    """A :class:`Catalog` of ``len(items)`` text-only items, row-aligned with ``items``.

    items : DataFrame with an ``item_id`` column (ids as the interactions use them) and,
        optionally, ``title``; texts : one string per row (see :func:`item_texts`);
        text_encoder : anything with ``encode(list[str]) -> (n, 384)`` L2-normalised vectors
        (`recsys.encoders.text`); kind : the items' kind ("video" or "audio").
    """
    if len(texts) != len(items):
        raise ValueError(f"{len(texts)} texts for {len(items)} items")
    vecs = np.asarray(text_encoder.encode(list(texts)), np.float32)          # (n, 384)
    n_labels = len(label_names())
    zeros = np.zeros(n_labels, np.float32)
    blocks = [make_blocks(visual=None, audio=None, text=v, semantic=v, label_scores=zeros) for v in vecs]
    # make_blocks centres the label scores: all-zero scores stay zero, so the tags block is empty
    stacked = {k: np.stack([getattr(b, k) for b in blocks]).astype(np.float32) for k in ItemBlocks.__annotations__}
    emb = np.stack([item_vector(b) for b in blocks]).astype(np.float32)
    frame = pd.DataFrame({"item_id": items["item_id"].astype(str).to_numpy(),
                          "title": items["title"].fillna("").astype(str).to_numpy() if "title" in items else texts,
                          "description": list(texts), "kind": kind, "path": "", "tags": "",
                          "license": "", "author": "", "source": name})
    return Catalog(items=frame, embeddings=emb, blocks=stacked,
                   label_scores=np.zeros((len(items), n_labels), np.float32),
                   media_dir=Path("."), meta={"source": name, "text_only": True})


def dataset_text_catalog(items: pd.DataFrame | None, text_encoder=None) -> Catalog:
    """The text-only catalog of a data set's item table (``Dataset.items``), for measuring the
    app's hybrid where there is no media: ``python -m recsys evaluate --app-hybrid``.

    text_encoder : None loads the process-wide MiniLM encoder (`recsys.encoders.text`)."""
    from recsys.errors import ConfigError

    if items is None or "item_id" not in items:
        raise ConfigError("this data set has no item table with titles: the app's hybrid needs "
                          "content (a media catalog or item titles)")
    if text_encoder is None:
        from recsys.encoders.text import get_text_encoder
        text_encoder = get_text_encoder()
    return text_catalog(items, item_texts(items), text_encoder)
