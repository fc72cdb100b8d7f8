"""Browsing the catalog: which rows a set of filters keeps, and each item's top labels.

Pure functions over the catalog's table and arrays (no Streamlit), used by the Catalog page's
gallery and table alike.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from recsys.understanding.label_key import LabelKey


def filter_rows(items: pd.DataFrame, *, kinds: Iterable[str] = ("audio", "video"),
                item_labels: Sequence[Iterable[str]] | None = None, labels: Iterable[str] = (),
                text: str = "", only_ids: Iterable[str] | None = None) -> np.ndarray:
    """Row numbers (ascending, catalog order) of the items that pass every filter.

    kinds : keep these kinds ("audio", "video"); none kept when empty
    item_labels : per row, the labels it can be filtered on (same length as ``items``)
    labels : every one of these must be among the row's ``item_labels``
    text : case-insensitive substring of the title or the description (blank: no filter)
    only_ids : when given, keep only these item ids
    """
    mask = items["kind"].isin(list(kinds)).to_numpy(copy=True)
    wanted = set(labels)
    if wanted:
        if item_labels is None or len(item_labels) != len(items):
            raise ValueError("item_labels must give one list of labels per catalog row")
        mask &= np.array([wanted <= set(ls) for ls in item_labels], bool)
    needle = " ".join(str(text).split())
    if needle:
        hay = items["title"].fillna("").astype(str) + "\n" + items.get(
            "description", pd.Series("", index=items.index)).fillna("").astype(str)
        mask &= hay.str.contains(needle, case=False, regex=False).to_numpy()
    if only_ids is not None:
        mask &= items["item_id"].isin(set(only_ids)).to_numpy()
    return np.flatnonzero(mask)


def top_labels(label_scores: np.ndarray, names: Sequence[str], *, k: int = 3, min_score: float = 0.0) -> list[str]:
    """The display names of one item's ``k`` highest-scoring labels (``label_scores``: (n_labels,)),
    best first, leaving out those under ``min_score``."""
    scores = np.asarray(label_scores, dtype=float)
    order = np.argsort(-scores, kind="stable")[:k]
    return [LabelKey.parse(names[j]).display for j in order if scores[j] >= min_score]
