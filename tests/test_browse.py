"""recsys.catalog.browse: the Catalog page's filters and top labels, on a small known table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.catalog.browse import filter_rows, top_labels


@pytest.fixture
def items():
    return pd.DataFrame({"item_id": ["a", "b", "c", "d"], "kind": ["audio", "video", "audio", "video"],
                         "title": ["Rain on a roof", "City night", "Piano", "Waves"],
                         "description": ["soft rain", "neon streets in the RAIN", None, "sea at dawn"]})


LABELS = [["calm", "nature"], ["urban"], ["calm"], ["nature", "calm"]]


def test_no_filter_keeps_everything_in_order(items):
    assert filter_rows(items).tolist() == [0, 1, 2, 3]


def test_kind_labels_text_and_ids_combine(items):
    assert filter_rows(items, kinds=["audio"]).tolist() == [0, 2]
    assert filter_rows(items, kinds=[]).tolist() == []
    assert filter_rows(items, item_labels=LABELS, labels=["calm", "nature"]).tolist() == [0, 3]
    # Title or description, any case, literal (no regex).
    assert filter_rows(items, text="  rain ").tolist() == [0, 1]
    assert filter_rows(items, text="rain", kinds=["video"]).tolist() == [1]
    assert filter_rows(items, text="(").tolist() == []
    assert filter_rows(items, only_ids={"d", "zz"}).tolist() == [3]


def test_labels_need_one_list_per_row(items):
    with pytest.raises(ValueError, match="one list of labels per catalog row"):
        filter_rows(items, item_labels=LABELS[:2], labels=["calm"])


def test_top_labels_best_first_with_a_floor():
    names = ["theme:rain", "emotion:calm", "style:lo-fi"]
    from recsys.understanding.label_key import LabelKey

    shown = [LabelKey.parse(n).display for n in names]
    assert top_labels(np.array([0.2, 0.9, 0.5]), names, k=2) == [shown[1], shown[2]]
    assert top_labels(np.array([0.2, 0.9, 0.5]), names, k=3, min_score=0.4) == [shown[1], shown[2]]
