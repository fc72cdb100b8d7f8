"""recsys.serving.explain: what an explanation names, on a synthetic catalog whose labels, vectors
and scores are known."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.factories import synthetic_catalog
from recsys.serving.explain import COMPONENT_WORDS, explain
from recsys.serving.hybrid import Query
from recsys.serving.ranker import COMPONENTS, RankedItem
from recsys.understanding.label_scoring import label_names


@pytest.fixture(scope="module")
def cat():
    return synthetic_catalog(10)


def _query(cat, *, labels=None, liked=()):
    return Query(label="test", content={}, liked=list(liked), label_scores=labels)


def test_components_are_named_with_their_share_of_the_score(cat):
    item = RankedItem(row=3, score=1.0, components={"audio": 0.5, "cf": 0.3, "popularity": 0.1, "visual": 0.1,
                                                    "text": 0.0})
    e = explain(cat, _query(cat), item)
    assert e.top_components == [("audio", 0.5), ("cf", 0.3), ("popularity", 0.1)]
    # An anonymous query (no history, no user): the collaborative part stands for the audience of
    # similar clips, never for "users with similar taste".
    assert e.text == ("Why: similar sound (50% of the score), liked by the audience of similar clips (30% of the "
                      "score) and popular in the catalog (10% of the score).")
    assert e.shared_labels == [] and e.nearest_liked is None
    assert set(COMPONENT_WORDS) == set(COMPONENTS)


def test_shared_labels_are_those_both_sides_score_high(cat):
    names = label_names()
    item_labels = cat.label_scores[2]
    q = np.zeros(len(names), np.float32)
    strong = int(np.argmax(item_labels))
    q[strong] = 0.9
    weak = int(np.argmin(item_labels))          # high in the query, low in the item: not shared
    q[weak] = 0.95
    e = explain(cat, _query(cat, labels=q), RankedItem(2, 0.0, {}))
    assert e.shared_labels == [(names[strong], pytest.approx(0.9), pytest.approx(float(item_labels[strong])))]
    facet, _, label = names[strong].partition(":")
    assert e.text.startswith(f"Shares {facet[:-1]} '{label.replace('_', ' ')}' (0.90 vs ")
    assert explain(cat, _query(cat, labels=q), RankedItem(2, 0.0, {}), min_score=0.99).shared_labels == []


def test_nearest_liked_is_the_most_similar_item_of_the_history(cat):
    liked = [0, 1, 7]
    e = explain(cat, _query(cat, liked=liked), RankedItem(8, 0.0, {}))
    sims = cat.embeddings[liked] @ cat.embeddings[8]
    best = liked[int(np.argmax(sims))]
    assert best == 7, "rows 5-9 share a cluster: the liked row from it is nearest"
    assert e.nearest_liked == (cat.items["item_id"][7], cat.items["title"][7], pytest.approx(float(sims.max())))
    assert f"Closest to \u201c{cat.items['title'][7]}\u201d, which you liked" in e.text
    d = e.to_dict()
    assert d["nearest_liked"]["item_id"] == "item-07" and d["text"] == e.text


def test_nothing_to_say_falls_back_to_one_sentence(cat):
    e = explain(cat, _query(cat), RankedItem(0, 0.0, {"audio": 0.0}))
    assert e.text == "Ranked by overall similarity." and e.top_components == []
