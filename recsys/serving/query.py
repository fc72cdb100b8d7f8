"""What to recommend for: a :class:`Query` made from an analysed clip or from a user's history.

One place computes a query's content profile (per block) and its single item-space vector, so the
ranking, the retrieval of candidates and the embedding map all place a query the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.analysis.item_vector import BLOCK_NAMES, l2_normalise
from recsys.catalog.catalog import Catalog


@dataclass
class Query:
    """What to recommend for: a clip's content, or a user's history (liked catalog rows).

    content : block name -> (d,) L2-normalised profile (zeros when unknown)
    liked, disliked : catalog rows
    user_text : (TEXT_DIM,) MiniLM vector describing the user (persona text), or None
    embedding : (D,) the clip's item vector when the query is a clip, else None
    label_scores : (L,) the query's label profile (for explanations)
    kind_share : {"audio": share, "video": share} the list should follow (a persona's stated
        preference), or None for no preference
    seeds : the rows of ``liked`` that a persona was seeded with (nobody liked them: explanations
        say "persona seed", not "you liked")
    """

    label: str
    content: dict[str, np.ndarray]
    liked: list[int] = field(default_factory=list)
    disliked: list[int] = field(default_factory=list)
    user_text: np.ndarray | None = None
    embedding: np.ndarray | None = None
    label_scores: np.ndarray | None = None
    exclude: set[int] = field(default_factory=set)
    kind_share: dict[str, float] | None = None
    seeds: list[int] = field(default_factory=list)

    def vector(self, embeddings: np.ndarray) -> np.ndarray | None:
        """(D,) the query's position in item space: the clip's own item vector, else the
        normalised mean of the liked items' rows of ``embeddings`` (n, D); None for neither."""
        if self.embedding is not None:
            return np.asarray(self.embedding, np.float32)
        if self.liked:
            return l2_normalise(embeddings[self.liked].mean(0))
        return None


def query_from_analysis(analysis, label: str | None = None, exclude: set[int] | None = None) -> Query:
    """A query for an analysed clip (:class:`~recsys.analysis.analyzer.ClipAnalysis`)."""
    blocks = analysis.blocks.as_dict()
    return Query(label=label or analysis.metadata.title or analysis.path, content=blocks,
                 user_text=analysis.understanding.semantic, embedding=analysis.embedding,
                 label_scores=analysis.understanding.label_vector(), exclude=set(exclude or ()))


def query_from_history(catalog: Catalog, liked: list[int], disliked: list[int] = (), *, label: str,
                       user_text: np.ndarray | None = None, taste: np.ndarray | None = None,
                       kind_share: dict[str, float] | None = None) -> Query:
    """A query for a user: content profile = mean of liked items' blocks minus half the mean of
    disliked ones (re-normalised); liked and disliked items are excluded from results."""
    liked, disliked = list(dict.fromkeys(liked)), list(dict.fromkeys(disliked))
    content = {}
    for b in BLOCK_NAMES:
        v = catalog.blocks[b][liked].mean(0) if liked else np.zeros(catalog.blocks[b].shape[1], np.float32)
        if disliked:
            v = v - 0.5 * catalog.blocks[b][disliked].mean(0)
        content[b] = l2_normalise(v)
    labels = catalog.label_scores[liked].mean(0) if liked else None
    if taste is not None:
        labels = taste if labels is None else 0.5 * (labels + taste / max(taste.max(), 1e-9))
    return Query(label=label, content=content, liked=liked, disliked=disliked, user_text=user_text,
                 label_scores=labels, exclude=set(liked) | set(disliked), kind_share=kind_share)
