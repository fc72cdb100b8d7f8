"""Recommender models behind one base class; ``MODELS`` maps a short name to each class."""
from __future__ import annotations

from .base import NotFittedError, Recommender
from .bpr import BPR
from .content import ContentCosine
from .ease import EASE
from .item_knn import ItemKNN
from .matcher import Matcher
from .popularity import Popularity
from .projection import ContentToCF

MODELS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "item_knn": ItemKNN,
    "bpr": BPR,
    "ease": EASE,
    "content": ContentCosine,
    "matcher": Matcher,
    "content_to_cf": ContentToCF,
}

__all__ = ["MODELS", "BPR", "ContentCosine", "ContentToCF", "EASE", "ItemKNN", "Matcher",
           "NotFittedError", "Popularity", "Recommender"]
