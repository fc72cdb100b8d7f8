"""recsys.users.personas: personas and the documented simulator."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.factories import synthetic_catalog
from recsys.errors import UnknownIdError
from recsys.users.personas import get_persona, load_personas, persona_seed_items, simulate_interactions


def test_at_least_six_personas_covering_audio_and_video():
    ps = load_personas()
    assert len(ps) >= 6
    assert any(p.kind_preference["video"] > 0.5 for p in ps) and any(p.kind_preference["audio"] > 0.5 for p in ps)
    assert all(p.taste().sum() >= 3 for p in ps)


def test_get_persona_is_forgiving_about_case_but_not_unknown_names():
    assert get_persona("nature lover").name == "Nature Lover"
    assert get_persona("NatureLover").name == "Nature Lover"
    with pytest.raises(UnknownIdError, match="known:"):
        get_persona("Nobody")


def test_simulator_follows_taste_and_is_seeded():
    cat = synthetic_catalog()
    nature, gamer = get_persona("Nature Lover"), get_persona("Night Owl Gamer")
    df = simulate_interactions(cat, [nature, gamer], users_per_persona=10, seed=3)
    again = simulate_interactions(cat, [nature, gamer], users_per_persona=10, seed=3)
    assert df.equals(again)
    assert df["simulated"].all() and set(df.columns) >= {"user_id", "item_id", "weight", "timestamp"}
    cluster = df["item_id"].str[-2:].astype(int) >= 20
    in_own = np.where(df["persona"] == "Nature Lover", ~cluster, cluster).mean()
    assert in_own > 0.8, "simulated users mostly consume items that fit their persona"
    assert not df.duplicated(["user_id", "item_id"]).any()


def test_seed_items_fit_the_persona():
    cat = synthetic_catalog()
    seeds = persona_seed_items(get_persona("Night Owl Gamer"), cat)
    assert len(seeds) == 3 and all(int(s[-2:]) >= 20 for s in seeds)
