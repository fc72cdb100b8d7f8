"""recsys.serving.service.RecsysService on a synthetic two-cluster catalog with a known answer
(rows 0-19 "Forest", liked by Nature Lovers; rows 20-39 "Neon", liked by Night Owl Gamers).
``load_service`` itself loads the real models and the sample catalog: the app tests cover it."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.factories import synthetic_catalog, two_persona_users
from recsys.errors import UnknownIdError
from recsys.serving.hybrid import HybridRecommender
from recsys.serving.service import Recommendation, RecsysService
from recsys.users.personas import get_persona, persona_seed_items


@pytest.fixture(scope="module")
def service():
    cat = synthetic_catalog(40)
    inter, text = two_persona_users(cat, users_per_persona=10)
    hybrid = HybridRecommender(cat, n_features=16, factors=8, bpr_epochs=10, matcher_epochs=5, seed=0)
    svc = RecsysService(cat, hybrid.fit(inter, user_text=text), inter, text, analyzer=object())
    # The persona text goes through the MiniLM encoder in the app; a constant vector here.
    svc.persona_text_vector = lambda p: np.zeros(384, np.float32)
    return svc


def _cluster(item_id: str) -> int:
    return int(int(item_id.split("-")[1]) >= 20)


def test_item_query_recommends_its_own_cluster_and_never_itself(service):
    recs = service.recommend(service.item_query("item-03"), k=5)
    assert len(recs) == 5 and all(isinstance(r, Recommendation) for r in recs)
    assert "item-03" not in [r.item_id for r in recs]
    assert [_cluster(r.item_id) for r in recs] == [0] * 5
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)


def test_kind_filter_and_the_recommendation_record(service):
    recs = service.recommend(service.item_query("item-30"), k=4, kind="audio")
    assert recs and all(r.kind == "audio" for r in recs)
    d = recs[0].to_dict()
    assert d["item_id"] == recs[0].item_id and d["title"].startswith("Neon")
    assert d["score"] == round(recs[0].score, 4) and d["explanation"] == recs[0].explanation.text
    assert service.catalog.items.iloc[recs[0].row]["item_id"] == recs[0].item_id


def test_user_query_excludes_the_history_and_knows_its_users(service):
    user, group = next(iter(service.interactions.groupby("user_id")))
    history = set(group["item_id"])
    recs = service.recommend(service.user_query(user), k=5)
    assert recs and history.isdisjoint(r.item_id for r in recs)
    with pytest.raises(UnknownIdError, match="unknown user 'nobody'"):
        service.user_query("nobody")


def test_persona_query_adds_likes_and_takes_dislikes_out_of_the_seeds(service):
    seeds = persona_seed_items(get_persona("Nature Lover"), service.catalog)
    q = service.persona_query("Nature Lover", liked=["item-25"], disliked=[seeds[0]])
    index = service.catalog.index
    assert index("item-25") in q.liked and index(seeds[0]) not in q.liked
    assert q.disliked == [index(seeds[0])] and q.label == "Nature Lover"
    recs = service.recommend(q, k=5)
    assert {r.item_id for r in recs}.isdisjoint({*seeds, "item-25"})


def test_the_analyzer_passed_in_is_the_one_used(service):
    assert service.analyzer is service._analyzer
