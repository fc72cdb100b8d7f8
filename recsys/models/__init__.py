"""Recommender models behind one base class; ``MODELS`` maps a short name to each class."""
from __future__ import annotations

from .base import NotFittedError, Recommender
from .bpr import BPR
from .content import ContentCosine
from .dlae import EDLAE
from .ease import EASE
from .ensemble import Ensemble
from .gfcf import GFCF
from .ials import IALS
from .item_knn import ItemKNN
from .matcher import Matcher
from .multvae import MultVAE
from .popularity import Popularity
from .projection import ContentToCF
from .rp3beta import RP3beta
from .session_ease import SessionEASE

MODELS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "item_knn": ItemKNN,
    "bpr": BPR,
    "ease": EASE,
    "content": ContentCosine,
    "matcher": Matcher,
    "content_to_cf": ContentToCF,
    "rp3beta": RP3beta,
    "edlae": EDLAE,
    "gfcf": GFCF,
    "multvae": MultVAE,
    "ials": IALS,
    "session_ease": SessionEASE,
    "ensemble": Ensemble,
}

__all__ = ["MODELS", "BPR", "ContentCosine", "ContentToCF", "EASE", "EDLAE", "Ensemble", "GFCF",
           "IALS", "ItemKNN", "Matcher", "MultVAE", "NotFittedError", "Popularity", "RP3beta",
           "Recommender", "SessionEASE"]
